//! Fuzzing the file readers (proptest): arbitrary bytes, and valid files with mutations
//! (truncated, bytes flipped, bytes inserted, a wrong magic number, gzip-wrapped), read by the
//! image readers (`data::images`: IDX images and labels, CSV with a given or inferred layout,
//! `ImageSet::open`) and the UCI split loader (`data::uci`). Each read must return `Ok` or a
//! typed error about the file's content — never panic, and never a bare parameter or shape
//! error that does not name the file.
//!
//! 64 cases per property from a fixed seed (`BAYESBURN_PROPTEST_CASES`,
//! `BAYESBURN_PROPTEST_SEED` search further by hand), each writing a few small files to a temp
//! dir.

use std::io::Write;
use std::path::{Path, PathBuf};

use bayesburn::data::images::{
    read_csv_images, read_csv_images_auto, read_idx_images, read_idx_labels, CsvLayout, ImageSet, IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
};
use bayesburn::data::uci::UciDataset;
use bayesburn::{Error, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;

/// A directory for one test case, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bayesburn-fuzz-{}-{test}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `Ok`, or an error about the content of a file under `dir`.
fn content_error<T>(r: Result<T>, dir: &Path) -> std::result::Result<(), TestCaseError> {
    match r {
        Ok(_) => Ok(()),
        Err(Error::MalformedData { path, .. } | Error::Data { path, .. }) => {
            prop_assert!(
                Path::new(&path).starts_with(dir),
                "the error names {path}, not a file under {}",
                dir.display()
            );
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("not a file-content error: {other}"))),
    }
}

/// An edit of a valid file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Keep only this share (in 1/256ths) of the bytes.
    Truncate(u8),
    /// XOR the byte at this share of the length with a non-zero mask.
    Flip(u16, u8),
    /// Insert bytes at this share of the length.
    Insert(u16, Vec<u8>),
    /// Replace the first 4 bytes with this big-endian word.
    Magic(u32),
    /// Gzip the (mutated) file, then keep only this share of the compressed bytes.
    GzipTruncated(u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<u8>().prop_map(Mutation::Truncate),
        (any::<u16>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<u32>().prop_map(Mutation::Magic),
        any::<u8>().prop_map(Mutation::GzipTruncated),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    let at = |share: u64, len: usize, max: u64| (share as usize * len) / (max as usize + 1);
    for m in mutations {
        match m {
            Mutation::Truncate(share) => bytes.truncate(at(u64::from(*share), bytes.len(), 255)),
            Mutation::Flip(share, mask) => {
                if !bytes.is_empty() {
                    let i = at(u64::from(*share), bytes.len(), 65535);
                    bytes[i] ^= mask;
                }
            }
            Mutation::Insert(share, new) => {
                let i = at(u64::from(*share), bytes.len() + 1, 65535);
                bytes.splice(i..i, new.iter().copied());
            }
            Mutation::Magic(word) => {
                for (b, w) in bytes.iter_mut().zip(word.to_be_bytes()) {
                    *b = w;
                }
            }
            Mutation::GzipTruncated(share) => {
                let z = gzip(&bytes);
                // 255 keeps the whole stream: a valid gzip file.
                let keep = if *share == 255 { z.len() } else { at(u64::from(*share), z.len(), 255) };
                bytes = z[..keep].to_vec();
            }
        }
    }
    bytes
}

/// A valid IDX image file of `n` images of `h x w` and its label file.
fn idx_pair(n: usize, h: usize, w: usize, seed: u8) -> (Vec<u8>, Vec<u8>) {
    let mut images = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [n, h, w] {
        images.extend((d as u32).to_be_bytes());
    }
    images.extend((0..n * h * w).map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed)));
    let mut labels = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
    labels.extend((n as u32).to_be_bytes());
    labels.extend((0..n).map(|i| (i % 10) as u8));
    (images, labels)
}

/// A valid CSV of `n` 8x8 digits (pixels 0..=16, then the label).
fn digits_csv(n: usize, seed: u8) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..n {
        let row: Vec<String> = (0..64)
            .map(|j| ((i * 64 + j) as u8).wrapping_mul(13).wrapping_add(seed) % 17)
            .map(|p| p.to_string())
            .collect();
        out.push_str(&format!("{},{}\n", row.join(","), i % 10));
    }
    out.into_bytes()
}

/// Every image reader on the file `name` holding `bytes`, with `labels` beside it.
fn read_all_image_readers(test: &str, bytes: &[u8], labels: &[u8]) -> std::result::Result<(), TestCaseError> {
    let dir = Scratch::new(test);
    let images = dir.write("fuzz-images-idx3-ubyte", bytes);
    let label_file = dir.write("fuzz-labels-idx1-ubyte", labels);
    content_error(read_idx_images(&images), &dir.0)?;
    content_error(read_idx_labels(&images), &dir.0)?;
    content_error(read_idx_labels(&label_file), &dir.0)?;
    content_error(ImageSet::from_idx(&images, &label_file), &dir.0)?;
    content_error(ImageSet::open(&images), &dir.0)?;
    content_error(read_csv_images(&images, CsvLayout::DIGITS_8X8), &dir.0)?;
    content_error(read_csv_images(&images, CsvLayout { height: 2, width: 3, max_pixel: 255 }), &dir.0)?;
    content_error(read_csv_images_auto(&images), &dir.0)
}

/// A valid UCI split folder: 6 rows, 3 columns, 2 splits.
fn uci_files() -> Vec<(&'static str, Vec<u8>)> {
    [
        ("data.txt", "1 10 100\n2 20 200\n3 30 300\n4 40 400\n5 50 500\n6 60 600\n"),
        ("index_features.txt", "0\n1\n"),
        ("index_target.txt", "2\n"),
        ("index_train_0.txt", "0\n1\n2\n3\n"),
        ("index_test_0.txt", "4\n5\n"),
        ("index_train_1.txt", "2\n3\n4\n5\n"),
        ("index_test_1.txt", "0\n1\n"),
        ("n_splits.txt", "2\n"),
        ("n_epochs.txt", "40\n"),
        ("tau_values.txt", "0.25\n0.5\n"),
    ]
    .into_iter()
    .map(|(name, text)| (name, text.as_bytes().to_vec()))
    .collect()
}

fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        // Text-like bytes reach the CSV parser's later checks more often.
        prop::collection::vec(prop::sample::select(b"0123456789,, \n-.16".to_vec()), 0..300),
    ]
}

proptest! {
    #![proptest_config(crate::support::config())]

    #[test]
    fn image_readers_on_arbitrary_bytes(bytes in any_bytes(), gz in any::<bool>(), labels in any_bytes()) {
        let bytes = if gz { gzip(&bytes) } else { bytes };
        read_all_image_readers("arbitrary", &bytes, &labels)?;
    }

    #[test]
    fn image_readers_on_mutated_idx_files(
        n in 0..4usize, h in 0..4usize, w in 0..4usize, seed in any::<u8>(),
        image_edits in prop::collection::vec(mutation(), 0..3),
        label_edits in prop::collection::vec(mutation(), 0..2),
    ) {
        let (images, labels) = idx_pair(n, h, w, seed);
        read_all_image_readers("idx", &apply(images, &image_edits), &apply(labels, &label_edits))?;
    }

    #[test]
    fn image_readers_on_mutated_csv_files(
        n in 1..4usize, seed in any::<u8>(), edits in prop::collection::vec(mutation(), 0..3),
    ) {
        read_all_image_readers("csv", &apply(digits_csv(n, seed), &edits), &[])?;
    }

    #[test]
    fn uci_loader_on_mutated_folders(
        file in 0..10usize, edits in prop::collection::vec(mutation(), 1..3), replace in any::<bool>(),
        bytes in any_bytes(),
    ) {
        let dir = Scratch::new("uci");
        for (i, (name, content)) in uci_files().into_iter().enumerate() {
            let content = match (i == file, replace) {
                (false, _) => content,
                (true, false) => apply(content, &edits),
                (true, true) => bytes.clone(),
            };
            dir.write(name, &content);
        }
        content_error(UciDataset::load(&dir.0), &dir.0)?;
    }
}

#[test]
fn the_unmutated_files_read() {
    // The mutation tests start from valid files: check that they are.
    let dir = Scratch::new("valid");
    let (images, labels) = idx_pair(3, 2, 2, 0);
    let images = dir.write("v-images-idx3-ubyte", &images);
    dir.write("v-labels-idx1-ubyte", &labels);
    assert_eq!(ImageSet::open(&images).unwrap().len(), 3);
    let csv = dir.write("digits.csv", &apply(digits_csv(2, 0), &[Mutation::GzipTruncated(255)]));
    assert_eq!(read_csv_images_auto(&csv).unwrap().len(), 2);
    let uci = Scratch::new("valid-uci");
    for (name, content) in uci_files() {
        uci.write(name, &content);
    }
    assert_eq!(UciDataset::load(&uci.0).unwrap().n_rows(), 6);
}
