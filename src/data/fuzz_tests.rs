//! Robustness: the parser and the conversions must return (an error or a
//! value) on any input, never panic. Mutates valid files of every dtype,
//! version and layout, truncates them, and feeds random bytes.

use super::npy::MAGIC;
use super::*;
use crate::types::ScalarType;

/// Valid files to mutate: every dtype, several shapes, versions 1 to 3,
/// C and Fortran order, big and little endian, hand-spelled headers.
fn seeds() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for dtype in Dtype::ALL {
        for shape in [vec![], vec![3], vec![2, 3], vec![2, 1, 2]] {
            let n = element_count(&shape).unwrap_or(0);
            let data = if dtype.is_float() {
                NpyData::Float((0..n).map(|k| k as f64 * 0.75 - 1.0).collect())
            } else {
                NpyData::Int((0..n).map(|k| k as i128).collect())
            };
            files.push(write_npy(&shape, &data, dtype));
        }
    }
    for (version, descr, fortran, shape, data) in [
        (2u8, ">i2", "True", "(2, 3)", vec![0u8; 12]),
        (
            3,
            "<f2",
            "False",
            "(3,)",
            vec![0, 0x3c, 0, 0xc0, 0xff, 0x7b],
        ),
        (
            1,
            ">f8",
            "True",
            "(1, 2)",
            vec![0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        (1, "|b1", "False", "(4L,)", vec![0, 1, 2, 0]),
        (1, ">u4", "True", "[2, 2]", vec![0xff; 16]),
    ] {
        let header =
            format!("{{\"descr\": '{descr}', 'fortran_order': {fortran}, 'shape': {shape}}}\n");
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&[version, 0]);
        if version == 1 {
            file.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            file.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        file.extend_from_slice(header.as_bytes());
        file.extend_from_slice(&data);
        files.push(file);
    }
    files
}

/// Bytes that tend to matter to the header grammar and the framing.
const INTERESTING: &[u8] = b"{}()[],:'\"\\ \n0123456789-LTFNu<>|=ifubcOSUVMm?\x00\xff\x80\x93";

fn mutate(file: &[u8], rng: &mut SplitMix64) -> Vec<u8> {
    let mut out = file.to_vec();
    let edits = 1 + rng.next_u64() % 4;
    for _ in 0..edits {
        let r = rng.next_u64();
        let pos = if out.is_empty() {
            0
        } else {
            (rng.next_u64() % out.len() as u64) as usize
        };
        match r % 7 {
            0 if !out.is_empty() => out[pos] ^= 1 << ((r >> 8) % 8),
            1 if !out.is_empty() => out[pos] = (r >> 8) as u8,
            2 if !out.is_empty() => out[pos] = INTERESTING[(r >> 8) as usize % INTERESTING.len()],
            3 => out.insert(pos, INTERESTING[(r >> 8) as usize % INTERESTING.len()]),
            4 if !out.is_empty() => {
                out.remove(pos);
            }
            5 => out.truncate(pos),
            _ => {
                // Corrupt the header length field, the likeliest size attack.
                if out.len() > 9 {
                    let field = 8 + (r >> 8) as usize % 2;
                    out[field] = (r >> 16) as u8;
                }
            }
        }
    }
    out
}

fn exercise(bytes: &[u8]) -> bool {
    let Ok(arr) = parse_npy(bytes) else {
        return false;
    };
    assert_eq!(element_count(&arr.shape), Some(arr.data.len()));
    for ty in [
        ScalarType::int(false, 8),
        ScalarType::int(true, 64),
        ScalarType::fixed(true, 16, 8),
        ScalarType::fixed(false, 4, 6),
    ] {
        for raw_mode in [false, true] {
            if let Ok(raw) = npy_to_raw(&arr, &ty, raw_mode) {
                let _ = raw_to_npy(&arr.shape, &raw, &ty, raw_mode);
            } else if let Err(e) = npy_to_raw(&arr, &ty, raw_mode) {
                let _ = e.to_string();
            }
        }
    }
    true
}

#[test]
fn mutated_files_never_panic() {
    let mut rng = SplitMix64::new(2024);
    let seeds = seeds();
    let mut parsed = 0;
    let mut total = 0;
    for seed in &seeds {
        assert!(exercise(seed), "seed file must parse");
        for cut in 0..seed.len() {
            let _ = parse_npy(&seed[..cut]);
        }
        for _ in 0..100 {
            let bytes = mutate(seed, &mut rng);
            if exercise(&bytes) {
                parsed += 1;
            } else if let Err(e) = parse_npy(&bytes) {
                let _ = e.to_string();
            }
            total += 1;
        }
    }
    assert!(total >= 5000, "{total} mutations");
    // Some mutations (in data bytes or padding) keep the file valid.
    assert!(parsed > 0);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SplitMix64::new(99);
    for k in 0..2000 {
        let len = (rng.next_u64() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if k % 2 == 0 {
            // Valid magic and version, random rest: reaches the header parser.
            let version = [1u8, 2, 3][k % 3];
            let mut prefix = MAGIC.to_vec();
            prefix.extend_from_slice(&[version, 0, (len % 256) as u8, 0]);
            if version != 1 {
                prefix.extend_from_slice(&[0, 0]);
            }
            prefix.extend(
                bytes
                    .iter()
                    .map(|b| INTERESTING[*b as usize % INTERESTING.len()]),
            );
            bytes = prefix;
        }
        exercise(&bytes);
    }
}
