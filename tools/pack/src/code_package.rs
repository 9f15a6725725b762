//! The Function Compute code package: a zip with the binary as `bootstrap` at its root.

use std::io::{self, Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::BOOTSTRAP;

/// The zip's bytes: one deflated entry, `bootstrap`, mode 0755 (FC starts it as is), dated
/// 1980-01-01 00:00 (the earliest DOS date) so the same binary always gives the same zip.
pub(crate) fn build(binary: &[u8]) -> io::Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o755);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(BOOTSTRAP, options)
        .map_err(io::Error::other)?;
    zip.write_all(binary)?;
    Ok(zip.finish().map_err(io::Error::other)?.into_inner())
}
