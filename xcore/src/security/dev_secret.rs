//! The development secret: generated once, kept in a file, reused.
//!
//! Without it every restart of a development server would refuse the tokens
//! it handed out and lock out every account whose TOTP secret it encrypted.
//! Production never comes here: it refuses to start without a configured
//! secret.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use super::{Secret, hex, unhex};
use crate::error::Error;

/// The secret in `path`, written there first (mode 0600) when the file does
/// not exist. Two processes starting at once agree: only one creates it.
pub(crate) fn load_or_create(path: &Path) -> Result<Secret, Error> {
    let unreadable = |err: std::io::Error| {
        Error::Setup(format!(
            "cannot use the development secret file {}: {err} (set XCORE_APP_SECRET, or \
             remove the file to start with a new secret)",
            path.display()
        ))
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(unreadable)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let bytes: [u8; 32] = rand::random();
            file.write_all(format!("{}\n", hex(&bytes)).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(unreadable)?;
            Ok(Secret::new(bytes.to_vec()))
        }
        Err(err) if err.kind() == ErrorKind::AlreadyExists => read(path).map_err(unreadable),
        Err(err) => Err(unreadable(err)),
    }
}

fn read(path: &Path) -> std::io::Result<Secret> {
    // The creator may still be writing: a few short retries cover it.
    for _ in 0..50 {
        let mut text = String::new();
        std::fs::File::open(path)?.read_to_string(&mut text)?;
        if let Some(bytes) = unhex(text.trim()).filter(|b| b.len() >= 32) {
            return Ok(Secret::new(bytes));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(std::io::Error::new(
        ErrorKind::InvalidData,
        "it does not hold 64 hex digits",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_created_once_private_and_then_reused() {
        let dir = std::env::temp_dir().join(format!("xcore-secret-{}", uuid::Uuid::new_v4()));
        let path = dir.join("app.db-secret");
        let first = load_or_create(&path).expect("created");
        let again = load_or_create(&path).expect("read");
        assert_eq!(first.expose(), again.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not hex").expect("write");
        assert!(load_or_create(&path).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
