//! Embeds the web UI (`web/`) gzip-compressed: browsers take the compressed
//! bytes as they are, so the binary carries a quarter of the UI's size and no
//! request compresses an asset again. Writes `$OUT_DIR/web_assets.rs`, which
//! `src/http/assets.rs` includes: one entry per file, sorted by path, each
//! with its content type and SHA-256, and the UI's version hash.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-changed=web");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files = Vec::new();
    collect(Path::new("web"), &mut files);
    let mut files: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix("web")
                .expect("collected under web/")
                .to_str()
                .expect("web/ file names are UTF-8")
                .replace('\\', "/");
            (name, path)
        })
        .collect();
    // By name as a string, the order the server's binary search compares
    // in (a path's order differs: `screens/` before `screens.css`).
    files.sort();

    let mut version = Sha256::new();
    let mut code = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (name, path) in &files {
        let data = fs::read(path).expect("read a web/ file");
        let sha = Sha256::digest(&data);
        version.update(name.as_bytes());
        version.update(sha);

        // The gzip header's time is left at zero: the same files give the
        // same binary.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&data).expect("gzip in memory");
        let gz = gz.finish().expect("gzip in memory");
        let gz_path = out.join("web").join(format!("{name}.gz"));
        fs::create_dir_all(gz_path.parent().expect("a file has a folder"))
            .expect("create a folder in OUT_DIR");
        fs::write(&gz_path, gz).expect("write to OUT_DIR");

        code.push_str(&format!(
            "    Asset {{ path: {name:?}, content_type: {ct:?}, gzip: include_bytes!({gz:?}), size: {size} }},\n",
            ct = content_type(name),
            gz = gz_path.display().to_string(),
            size = data.len(),
        ));
    }
    code.push_str("];\n");
    let version = version.finalize();
    code.push_str(&format!(
        "pub const VERSION: &str = {:?};\n",
        hex(&version[..6])
    ));
    fs::write(out.join("web_assets.rs"), code).expect("write to OUT_DIR");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read web/") {
        let path = entry.expect("read web/").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Only the types the UI uses: a new kind of file fails the build here rather
/// than being served as something a browser refuses (module scripts must be
/// JavaScript, stylesheets text/css under `nosniff`).
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => panic!("web/{name}: add its content type to build.rs"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
