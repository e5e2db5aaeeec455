//! The slug archive: a gzip-compressed GNU tar of `./app`, in the canonical chunked-deflate
//! encoding, so that the same inputs give the same bytes everywhere.
