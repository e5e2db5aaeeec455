//! What a file that is not a regular file (or directory, or symlink) is, said the one way
//! every message says it: "a fifo", "a socket", "a device". A leaf: the slug's file listing
//! and the reader of files the manifest names both refuse such files, in the same words.

use std::fs::FileType;
use std::os::unix::fs::FileTypeExt;

/// `kind` as a message names it: "a directory", "a fifo", "a socket", "a device", else "not a
/// regular file".
pub fn describe(kind: &FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a fifo"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}
