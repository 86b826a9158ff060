//! The demo's report in a real browser: headless Chromium (from `scripts/chromium.sh`, which
//! installs the Debian package when it can) renders it to a PNG screenshot, and the page must have
//! rendered: a non-empty image of many colours with the report's ink on most of its height.

use std::path::Path;
use std::process::Command;

use crate::common::{midnet, repo_root, tempdir};
use crate::demo::printed_report;

/// Chromium's path, or `None` (with the script's reason on stderr) when none can be installed here.
fn chromium() -> Option<String> {
    let script = repo_root().join("scripts/chromium.sh");
    let out = Command::new(&script).output().expect("scripts/chromium.sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
        Some(3) => {
            eprintln!("SKIPPED: no Chromium for the browser test: {stderr}");
            None
        }
        _ => panic!("scripts/chromium.sh failed ({}):\n{stderr}", out.status),
    }
}

/// A full-height screenshot of `page`, `width` pixels wide.
fn screenshot(chromium: &str, page: &Path, png: &Path, width: u32) {
    let profile = tempdir();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            // The report fetches nothing: with the network off, a page that needs it shows the gap.
            "--proxy-server=127.0.0.1:9",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--window-size={width},6000"),
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", page.display()),
        ])
        .output()
        .expect("chromium starts");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The screenshot as RGB rows.
fn pixels(png: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
    assert!(!bytes.is_empty(), "the screenshot {} is empty", png.display());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("the screenshot is a PNG");
    let mut buffer = vec![0; reader.output_buffer_size().expect("a PNG of sane size")];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    assert!(info.bit_depth == png::BitDepth::Eight && channels >= 3, "unexpected PNG format {info:?}");
    let rgb = buffer[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, rgb)
}

#[test]
fn the_demo_report_renders_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempdir();
    let run = midnet(dir.path(), &["demo", "--dir", "run", "--site-count", "2", "--patients", "1500"]).ok();
    let report = printed_report(&run.stdout);
    let png = dir.path().join("report.png");
    screenshot(&chromium, &report, &png, 1280);
    let (width, height, rgb) = pixels(&png);
    assert_eq!(width, 1280);
    let mut colours: Vec<[u8; 3]> = rgb.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "the page rendered as {} colour(s): nothing drawn", colours.len());
    // Ink (anything darker than the page) on most rows of the top screen: text, plots and tables.
    let ink_rows = (0..height.min(1000) as usize)
        .filter(|y| rgb[y * width as usize..(y + 1) * width as usize].iter().any(|p| p.iter().all(|c| *c < 128)))
        .count();
    assert!(ink_rows > 300, "only {ink_rows} of the top 1000 rows hold dark ink: the report did not render");
}
