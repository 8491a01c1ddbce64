//! Image readers and transforms, on small files written here: each well-formed file reads back
//! exactly, and each malformed one gives `Error::MalformedData` naming what and where.

use std::io::Write;
use std::path::{Path, PathBuf};

use bayesburn::data::images::{read_csv_images, read_idx_images, read_idx_labels, CsvLayout, ImageSet};
use bayesburn::Error;
use flate2::write::GzEncoder;
use flate2::Compression;

/// A fresh directory under the system temp dir, unique per process and test, removed when the
/// value is dropped (also when the test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn temp_dir(test: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("bayesburn-images-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX file: magic, sizes (big-endian u32), data.
fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

/// Three 2x4 images with pixels 0, 1, ..., 23 and labels 7, 0, 9.
fn idx_pair(dir: &Path, gz: bool) -> (PathBuf, PathBuf) {
    let pixels: Vec<u8> = (0..24).collect();
    let images = idx(0x0803, &[3, 2, 4], &pixels);
    let labels = idx(0x0801, &[3], &[7, 0, 9]);
    let suffix = if gz { ".gz" } else { "" };
    let (pi, pl) =
        (dir.join(format!("t10k-images-idx3-ubyte{suffix}")), dir.join(format!("t10k-labels-idx1-ubyte{suffix}")));
    if gz {
        write(&pi, &gzip(&images));
        write(&pl, &gzip(&labels));
    } else {
        write(&pi, &images);
        write(&pl, &labels);
    }
    (pi, pl)
}

/// The location and `what` of a `MalformedData` (printed, for docs/ERRORS.md: run with
/// `--nocapture`).
fn malformed(err: Error) -> (String, &'static str) {
    println!("{err}");
    match err {
        Error::MalformedData { at, what, .. } => (at, what),
        other => panic!("expected MalformedData, got {other:?}"),
    }
}

#[test]
fn idx_files_read_back_exactly_plain_and_gzip() {
    let dir = temp_dir("idx_ok");
    for gz in [false, true] {
        let (pi, pl) = idx_pair(&dir, gz);
        let raw = read_idx_images(&pi).unwrap();
        assert_eq!((raw.n, raw.height, raw.width), (3, 2, 4));
        assert_eq!(raw.pixels, (0..24).collect::<Vec<u8>>());
        assert_eq!(read_idx_labels(&pl).unwrap(), vec![7, 0, 9]);
        for set in [ImageSet::from_idx(&pi, &pl).unwrap(), ImageSet::open(&pi).unwrap()] {
            assert_eq!((set.len(), set.height(), set.width(), set.n_classes()), (3, 2, 4, 10));
            assert_eq!(set.labels(), &[7, 0, 9]);
            let expected: Vec<f32> = (0..24).map(|p| p as f32 / 255.0).collect();
            assert_eq!(set.pixels(), expected.as_slice());
            assert_eq!(set.image(1).unwrap(), &expected[8..16]);
        }
    }
}

#[test]
fn idx_wrong_magic_number() {
    let dir = temp_dir("idx_magic");
    let (pi, pl) = idx_pair(&dir, false);
    // The label file where the images belong, and the other way round.
    let (at, what) = malformed(read_idx_images(&pl).unwrap_err());
    assert_eq!((at.as_str(), what), ("byte offset 0", "magic number"));
    let err = ImageSet::from_idx(&pl, &pi).unwrap_err();
    assert!(err.to_string().contains("0x00000801") && err.to_string().contains("0x00000803"), "{err}");
    let (_, what) = malformed(read_idx_labels(&pi).unwrap_err());
    assert_eq!(what, "magic number");
}

#[test]
fn idx_truncated_header_and_data() {
    let dir = temp_dir("idx_truncated");
    let full = idx(0x0803, &[3, 2, 4], &(0..24).collect::<Vec<u8>>());
    let path = dir.join("short-images-idx3-ubyte");
    write(&path, &full[..full.len() - 5]);
    let (at, what) = malformed(read_idx_images(&path).unwrap_err());
    assert_eq!((what, at.as_str()), ("data length", format!("byte offset {}", full.len() - 5).as_str()));
    write(&path, &full[..10]);
    assert_eq!(malformed(read_idx_images(&path).unwrap_err()).1, "header");
    write(&path, &full[..2]);
    assert_eq!(malformed(read_idx_images(&path).unwrap_err()).1, "file length");
    // A gzip stream cut short.
    let gz = gzip(&full);
    write(&path, &gz[..gz.len() / 2]);
    assert_eq!(malformed(read_idx_images(&path).unwrap_err()).1, "gzip data");
}

#[test]
fn idx_trailing_bytes_and_label_count() {
    let dir = temp_dir("idx_lengths");
    let mut long = idx(0x0803, &[3, 2, 4], &(0..24).collect::<Vec<u8>>());
    long.push(0);
    let path = dir.join("long-images-idx3-ubyte");
    write(&path, &long);
    let (at, what) = malformed(read_idx_images(&path).unwrap_err());
    assert_eq!((what, at.as_str()), ("data length", "byte offset 40"));
    let (pi, pl) = idx_pair(&dir, false);
    write(&pl, &idx(0x0801, &[2], &[1, 2]));
    assert_eq!(malformed(ImageSet::from_idx(&pi, &pl).unwrap_err()).1, "number of labels");
}

#[test]
fn idx_zero_image_size() {
    // An empty set of 0 x 4 images used to read fine and then fail in ImageSet::new with an
    // error that did not name the file (tests/it/fuzz_readers.rs generates such headers).
    let dir = temp_dir("idx_zero");
    let path = dir.join("zero-images-idx3-ubyte");
    write(&path, &idx(0x0803, &[0, 0, 4], &[]));
    let (at, what) = malformed(read_idx_images(&path).unwrap_err());
    assert_eq!((what, at.as_str()), ("header", "byte offset 8"));
}

const LAYOUT: CsvLayout = CsvLayout { height: 2, width: 2, max_pixel: 16 };

#[test]
fn csv_reads_back_exactly_plain_and_gzip() {
    let dir = temp_dir("csv_ok");
    let text = "0,16,8,4,3\n\n 1, 2 ,3,4,0\n";
    for (name, bytes) in [("a.csv", text.as_bytes().to_vec()), ("a.csv.gz", gzip(text.as_bytes()))] {
        let path = dir.join(name);
        write(&path, &bytes);
        let set = read_csv_images(&path, LAYOUT).unwrap();
        assert_eq!((set.len(), set.height(), set.width()), (2, 2, 2));
        assert_eq!(set.labels(), &[3, 0]);
        let expected: Vec<f32> = [0, 16, 8, 4, 1, 2, 3, 4].iter().map(|&p| p as f32 / 16.0).collect();
        assert_eq!(set.pixels(), expected.as_slice());
        assert_eq!(ImageSet::open(&path).unwrap(), set, "auto layout: side 2 from 4 pixels, max 16");
    }
    let path = dir.join("wide.csv");
    write(&path, b"0,255,8,4,3\n");
    let auto = ImageSet::open(&path).unwrap();
    assert_eq!(auto.pixels(), &[0.0, 1.0, 8.0 / 255.0, 4.0 / 255.0], "a pixel above 16 means 8-bit levels");
}

#[test]
fn csv_wrong_row_length() {
    let dir = temp_dir("csv_row");
    let path = dir.join("rows.csv");
    write(&path, b"0,1,2,3,4\n0,1,2,3\n");
    let (at, what) = malformed(read_csv_images(&path, LAYOUT).unwrap_err());
    assert_eq!((what, at.as_str()), ("row length", "line 2"));
    write(&path, b"0,1,2,3,4,5,6\n");
    assert_eq!(malformed(ImageSet::open(&path).unwrap_err()).1, "row length", "6 pixels is not a square");
}

#[test]
fn csv_bad_pixel_values() {
    let dir = temp_dir("csv_pixel");
    let path = dir.join("pixels.csv");
    for bad in ["17", "-1", "1.5", "x", ""] {
        write(&path, format!("0,0,0,0,1\n0,0,{bad},0,1\n").as_bytes());
        let (at, what) = malformed(read_csv_images(&path, LAYOUT).unwrap_err());
        assert_eq!((what, at.as_str()), ("pixel value", "line 2, column 3"), "pixel {bad:?}");
    }
}

#[test]
fn csv_bad_labels() {
    let dir = temp_dir("csv_label");
    let path = dir.join("labels.csv");
    for bad in ["256", "-1", "2.0", "seven"] {
        write(&path, format!("0,0,0,0,{bad}\n").as_bytes());
        let (at, what) = malformed(read_csv_images(&path, LAYOUT).unwrap_err());
        assert_eq!((what, at.as_str()), ("label", "line 1, column 5"), "label {bad:?}");
    }
}

#[test]
fn csv_empty_binary_and_missing_files() {
    let dir = temp_dir("csv_other");
    let path = dir.join("empty.csv");
    write(&path, b"\n\n");
    assert_eq!(malformed(read_csv_images(&path, LAYOUT).unwrap_err()).1, "content");
    write(&path, &[0xff, 0xfe, 0x00, 0x01]);
    assert_eq!(malformed(read_csv_images(&path, LAYOUT).unwrap_err()).1, "text");
    let err = read_csv_images(dir.join("missing.csv"), LAYOUT).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    let err = read_csv_images(&path, CsvLayout { height: 0, width: 2, max_pixel: 16 }).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
}

/// A labelled set with `counts[c]` images of class `c`; pixel value = index / n.
fn set_with_counts(counts: &[usize]) -> ImageSet {
    let labels: Vec<u8> = counts.iter().enumerate().flat_map(|(c, &k)| std::iter::repeat_n(c as u8, k)).collect();
    let n = labels.len();
    ImageSet::new((0..n).map(|i| i as f32 / n as f32).collect(), 1, 1, labels).unwrap()
}

#[test]
fn stratified_split_keeps_class_shares_and_is_seeded() {
    let set = set_with_counts(&[50, 30, 20, 7]);
    let (train, test) = set.stratified_split(21, 3).unwrap();
    // Exact shares 21 * [50, 30, 20, 7] / 107 = [9.81, 5.89, 3.93, 1.37]: floors [9, 5, 3, 1]
    // (18), the three missing go to the largest remainders (classes 2, 1, 0).
    assert_eq!(test.class_counts(), vec![10, 6, 4, 1]);
    assert_eq!(train.class_counts(), vec![40, 24, 16, 6]);
    // Disjoint and complete: the pixel values are the original indices.
    let mut all: Vec<f32> = train.pixels().iter().chain(test.pixels()).copied().collect();
    all.sort_by(f32::total_cmp);
    assert_eq!(all, set.pixels());
    assert_eq!(set.stratified_split(21, 3).unwrap().1, test, "same seed, same split");
    assert_ne!(set.stratified_split(21, 4).unwrap().1, test, "another seed, another split");
    assert!(set.stratified_split(0, 3).is_err() && set.stratified_split(107, 3).is_err());
    assert!(ImageSet::uniform_noise(5, 2, 2, 0).stratified_split(2, 0).is_err());
}

#[test]
fn gamma_raises_every_pixel_to_the_power() {
    let set = ImageSet::new(vec![0.0, 0.25, 0.5, 1.0], 2, 2, vec![1]).unwrap();
    for gamma in [0.5, 2.0, 4.0] {
        let shifted = set.with_gamma(gamma).unwrap();
        for (s, p) in shifted.pixels().iter().zip(set.pixels()) {
            assert!((f64::from(*s) - f64::from(*p).powf(gamma)).abs() < 1e-6, "gamma {gamma}: {s} vs {p}");
        }
        assert_eq!(shifted.labels(), set.labels());
    }
    for bad in [0.0, -1.0, f64::NAN] {
        assert!(matches!(set.with_gamma(bad).unwrap_err(), Error::InvalidParameter { .. }));
    }
}

#[test]
fn rotation_by_quarter_turns_permutes_pixels() {
    // 5 x 5, odd side: a quarter turn maps pixel centres onto pixel centres.
    let pixels: Vec<f32> = (0..25).map(|i| i as f32 / 25.0).collect();
    let set = ImageSet::new(pixels.clone(), 5, 5, vec![0]).unwrap();
    let quarter = set.rotated(90.0);
    for r in 0..5 {
        for c in 0..5 {
            // Counter-clockwise on screen: output (r, c) shows input (c, 4 - r).
            let expected = pixels[c * 5 + (4 - r)];
            assert!((quarter.pixels()[r * 5 + c] - expected).abs() < 1e-6, "({r}, {c})");
        }
    }
    assert_eq!(set.rotated(0.0), set);
    let full = set.rotated(360.0);
    assert!(full.pixels().iter().zip(&pixels).all(|(a, b)| (a - b).abs() < 1e-6));
}

#[test]
fn uniform_noise_has_the_uniform_mean() {
    let n = 40 * 8 * 8;
    let noise = ImageSet::uniform_noise(40, 8, 8, 1);
    assert_eq!((noise.len(), noise.is_labelled()), (40, false));
    let mean = noise.pixels().iter().map(|&p| f64::from(p)).sum::<f64>() / n as f64;
    // U(0, 1): mean 1/2, sd 1/sqrt(12); 4 standard errors.
    assert!((mean - 0.5).abs() < 4.0 / (12.0 * n as f64).sqrt(), "mean {mean}");
    assert_eq!(ImageSet::uniform_noise(40, 8, 8, 1), noise);
}

#[test]
fn synthetic_digits_are_balanced_and_separable() {
    let set = ImageSet::synthetic_digits(30, 16, 5);
    assert_eq!((set.len(), set.height(), set.class_counts()), (300, 16, vec![30; 10]));
    assert!(set.pixels().iter().all(|p| (0.0..=1.0).contains(p)));
    // Nearest class mean, fitted on one part and scored on the other: a learnable set scores
    // far above chance. Chance is 0.1; with 100 test images the binomial standard error at
    // chance is sqrt(0.1 * 0.9 / 100) = 0.03, so accuracy above 0.1 + 4 * 0.03 is not luck.
    let (train, test) = set.stratified_split(100, 0).unwrap();
    let d = 16 * 16;
    let mut means = vec![vec![0.0f64; d]; 10];
    for i in 0..train.len() {
        let c = usize::from(train.labels()[i]);
        for (m, &p) in means[c].iter_mut().zip(train.image(i).unwrap()) {
            *m += f64::from(p) / 20.0;
        }
    }
    let correct = (0..test.len())
        .filter(|&i| {
            let img = test.image(i).unwrap();
            let dist = |m: &Vec<f64>| m.iter().zip(img).map(|(a, &b)| (a - f64::from(b)).powi(2)).sum::<f64>();
            let best = (0..10).min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b]))).unwrap();
            best == usize::from(test.labels()[i])
        })
        .count();
    let accuracy = correct as f64 / test.len() as f64;
    assert!(accuracy > 0.1 + 4.0 * (0.1f64 * 0.9 / 100.0).sqrt(), "nearest-mean accuracy {accuracy}");
}
