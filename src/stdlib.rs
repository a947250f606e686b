//! The standard library, built into the binary so that `use std::...` works
//! from any folder. One `.cnn` module per file in `stdlib/`.

const MODULES: &[(&str, &str)] = &[("blocks", include_str!("../stdlib/blocks.cnn"))];

pub fn modules() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|(name, _)| *name)
}

pub fn module_source(name: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
