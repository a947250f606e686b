//! `convoy lsp`: the language server over stdio. The logic is
//! `convoy::lsp::Server`; this file only does its IO: the stdio connection,
//! the files a document's `load("...")` names, and the stdlib copies that
//! "go to definition" opens.

use super::files::io_reason;
use convoy::lsp::{stdlib, Files, Server};
use lsp_server::{Connection, Message};
use std::path::{Path, PathBuf};

struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| format!("{}: {}", path.display(), io_reason(&e)))
    }

    fn list(&self, dir: &Path) -> Vec<(String, bool)> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return vec![];
        };
        let mut out: Vec<(String, bool)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let is_dir = e.file_type().ok()?.is_dir();
                (!name.starts_with('.')).then_some((name, is_dir))
            })
            .collect();
        out.sort();
        out
    }

    fn exists(&self, path: &Path) -> bool {
        path.is_file()
    }
}

/// `$XDG_CACHE_HOME`, else `~/.cache`, else the temporary folder.
fn cache_base() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home).join(".cache");
    }
    std::env::temp_dir()
}

/// Writes the read-only stdlib copies once per stdlib version; `None` when
/// the folder cannot be written (definitions into the stdlib are then off).
fn write_stdlib() -> Option<PathBuf> {
    let dir = stdlib::folder(&cache_base());
    std::fs::create_dir_all(&dir).ok()?;
    for (name, text) in stdlib::files() {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text) {
            continue;
        }
        // A stale read-only copy cannot be overwritten: replace it.
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, text).ok()?;
        if let Ok(meta) = std::fs::metadata(&path) {
            let mut perms = meta.permissions();
            perms.set_readonly(true);
            let _ = std::fs::set_permissions(&path, perms);
        }
    }
    std::fs::canonicalize(&dir).ok().or(Some(dir))
}

pub fn run() -> i32 {
    let (connection, io_threads) = Connection::stdio();
    let server = Server::new(Box::new(Disk), write_stdlib());
    let code = serve(&connection, server);
    drop(connection);
    let _ = io_threads.join();
    code
}

fn serve(connection: &Connection, mut server: Server) -> i32 {
    let Ok((id, _params)) = connection.initialize_start() else {
        return 1;
    };
    if connection
        .initialize_finish(id, server.initialize_result())
        .is_err()
    {
        return 1;
    }
    for message in &connection.receiver {
        if let Message::Request(r) = &message {
            match connection.handle_shutdown(r) {
                Ok(true) => return 0,
                Ok(false) => {}
                Err(_) => return 1,
            }
        }
        if let Message::Notification(n) = &message {
            if n.method == "exit" {
                // `exit` without `shutdown` first: an error, as LSP says.
                return 1;
            }
        }
        for reply in server.handle(message) {
            if connection.sender.send(reply).is_err() {
                return 1;
            }
        }
    }
    0
}
