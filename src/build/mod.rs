//! Building a slug: gather its components (runtime trees, a Go binary, the app's own files) and
//! write them as one archive through [`crate::slug`].

pub mod go;
