//! The canonical chunked-deflate v1 encoding: how a tar stream becomes gzip bytes.
//!
//! ```text
//! 1f 8b 08 00 00000000 00 ff  ‖ Z(chunk 0) ‖ … ‖ Z(chunk n-1) ‖ 03 00 ‖ CRC-32 (LE) ‖ ISIZE (LE)
//! ```
//!
//! `Z(c)` is a fresh raw-deflate stream (zlib-rs, level 6, window 15, no dictionary) fed the
//! chunk's bytes and ended with a full flush: it ends byte-aligned, with an empty stored block,
//! and depends on nothing but `c`. That is what makes the encoding both parallel (chunks compress
//! independently) and spliceable (an unchanged component's compressed chunks are reused as they
//! are). `03 00` is a final, empty, fixed-Huffman block that closes the deflate stream. The CRC of
//! the whole stream is combined from per-chunk CRCs, so nothing ever re-reads the tar bytes.
//!
//! Chunk size, level, window, backend and the backend's version are all part of the format:
//! Cargo.lock pins flate2 and zlib-rs, and a golden-checksum test fails when the bytes move.
//! zlib-rs picks SIMD code paths at run time only for work whose result does not depend on
//! them (string comparison, window sliding, checksums); its match-finding hash depends on the
//! level alone, so the bytes are the same on every x86-64 and aarch64 machine.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress};

use super::sha_pipe::ShaPipe;

/// The name of this encoding. Every cache key derived from slug bytes includes it, so a change
/// of encoding can never serve stale chunks.
pub const FORMAT_VERSION: &str = "chunked-deflate-v1";

/// Bytes of tar stream per chunk (the last chunk of a component is shorter).
pub const CHUNK_SIZE: usize = 1 << 20;

/// The deflate level.
const LEVEL: u32 = 6;

/// The deflate window, in bits.
const WINDOW_BITS: u8 = 15;

/// The fixed gzip header: no name, no mtime, no flags, XFL 0, OS "unknown" (255).
pub const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];

/// A final empty fixed-Huffman block: BFINAL=1, BTYPE=01, end-of-block.
pub const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// A raw-deflate compressor for chunks, reusable across chunks.
///
/// Resetting a zlib stream puts it in exactly the state of a fresh one, so reusing the
/// allocation does not change a single output byte; it only saves ~300 KiB of allocation and
/// zeroing per chunk.
pub struct ChunkCompressor {
    inner: Compress,
}

impl Default for ChunkCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkCompressor {
    /// A compressor with the format's parameters.
    pub fn new() -> Self {
        ChunkCompressor {
            inner: Compress::new_with_window_bits(Compression::new(LEVEL), false, WINDOW_BITS),
        }
    }

    /// Appends `Z(chunk)` to `out` (which is cleared first) and returns the chunk's CRC-32.
    pub fn compress(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> u32 {
        #[cfg(test)]
        let _busy = busy::Busy::enter();
        self.inner.reset();
        out.clear();
        // Stored blocks bound the worst case: 5 bytes per 16 KiB block plus the flush marker.
        out.reserve(chunk.len() + chunk.len() / 16_000 * 5 + 64);
        let mut input = chunk;
        loop {
            let before = self.inner.total_in();
            self.inner
                .compress_vec(input, out, FlushCompress::Full)
                .expect("raw deflate into a growable buffer cannot fail");
            let consumed = usize::try_from(self.inner.total_in() - before)
                .expect("consumed bytes fit in usize");
            input = &input[consumed..];
            // Done when all input is in and the flush left spare room (zlib fills the buffer
            // completely only when it may have more to say).
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(4096));
        }
        crc32fast::hash(chunk)
    }
}

/// How many chunks test builds are compressing at once, process-wide, whatever the threads
/// doing it: what the compression pool's bound is tested against.
#[cfg(test)]
pub(crate) mod busy {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static ACTIVE: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// One compression under way, until dropped.
    pub(crate) struct Busy;

    impl Busy {
        pub(crate) fn enter() -> Self {
            let now = ACTIVE.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(now, Ordering::SeqCst);
            Busy
        }
    }

    impl Drop for Busy {
        fn drop(&mut self) {
            ACTIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The most chunks compressed at once since the process started.
    pub(crate) fn peak() -> usize {
        PEAK.load(Ordering::SeqCst)
    }
}

/// Compresses one chunk with a fresh compressor: `(Z(chunk), crc32(chunk))`.
pub fn compress_chunk(chunk: &[u8]) -> (Vec<u8>, u32) {
    let mut out = Vec::new();
    let crc = ChunkCompressor::new().compress(chunk, &mut out);
    (out, crc)
}

/// Writes the gzip frame around compressed chunks and hashes every byte it writes (on its own
/// thread, see [`super::sha_pipe`]).
///
/// The caller pushes chunks (or whole already-compressed spans of chunks) in stream order;
/// [`GzipAssembler::finish`] writes the trailer and returns the SHA-256 of the whole file.
pub struct GzipAssembler<W: Write> {
    out: W,
    sha: ShaPipe,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> GzipAssembler<W> {
    /// Starts a gzip file on `out` by writing the fixed header.
    pub fn new(out: W) -> io::Result<Self> {
        let mut this = GzipAssembler {
            out,
            sha: ShaPipe::new(),
            crc: crc32fast::Hasher::new(),
            written: 0,
        };
        this.write(&GZIP_HEADER)?;
        Ok(this)
    }

    /// Appends compressed bytes covering `len` bytes of tar stream whose CRC-32 is `crc`.
    /// `deflate` must be a concatenation of whole `Z(chunk)`s.
    pub fn push(&mut self, deflate: &[u8], crc: u32, len: u64) -> io::Result<()> {
        self.write(deflate)?;
        self.add_crc(crc, len);
        Ok(())
    }

    /// Appends compressed bytes without accounting for their CRC; pair with [`Self::add_crc`].
    /// Lets a caller stream a large already-compressed span in pieces.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.sha.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// A buffer (of stale bytes) to read compressed bytes into and hand to
    /// [`Self::write_buf`], which hashes them without copying them.
    pub fn buffer(&mut self) -> Vec<u8> {
        self.sha.buffer()
    }

    /// [`Self::write`] of a buffer from [`Self::buffer`].
    pub fn write_buf(&mut self, buf: Vec<u8>) -> io::Result<()> {
        self.out.write_all(&buf)?;
        self.written += buf.len() as u64;
        self.sha.submit(buf);
        Ok(())
    }

    /// Accounts for `len` bytes of tar stream with CRC-32 `crc`, written with [`Self::write`].
    pub fn add_crc(&mut self, crc: u32, len: u64) {
        self.crc
            .combine(&crc32fast::Hasher::new_with_initial_len(crc, len));
    }

    /// Compressed bytes written so far, header included.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes the final block and the trailer; returns the output, the file's SHA-256, its
    /// size, and the tar stream's CRC-32 and length.
    pub fn finish(mut self) -> io::Result<Finished<W>> {
        let crc = self.crc.clone().finalize();
        let tar_len = self.crc.total_len();
        self.write(&FINAL_BLOCK)?;
        self.write(&crc.to_le_bytes())?;
        // ISIZE is the length modulo 2^32 by definition (RFC 1952).
        self.write(&(tar_len as u32).to_le_bytes())?;
        self.out.flush()?;
        Ok(Finished {
            sha256: self.sha.finish(),
            size: self.written,
            crc,
            tar_len,
            out: self.out,
        })
    }
}

/// What a finished [`GzipAssembler`] returns.
#[derive(Debug)]
pub struct Finished<W> {
    /// The SHA-256 of the gzip file.
    pub sha256: [u8; 32],
    /// The gzip file's size in bytes.
    pub size: u64,
    /// The tar stream's CRC-32.
    pub crc: u32,
    /// The tar stream's length.
    pub tar_len: u64,
    /// The output it was written to.
    pub out: W,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Encodes `stream` cut at `cuts` (component boundaries) into 1 MiB chunks.
    fn encode(stream: &[u8], components: &[usize]) -> Vec<u8> {
        let mut gz = GzipAssembler::new(Vec::new()).unwrap();
        let mut start = 0;
        for &len in components {
            for chunk in stream[start..start + len].chunks(CHUNK_SIZE) {
                let (z, crc) = compress_chunk(chunk);
                gz.push(&z, crc, chunk.len() as u64).unwrap();
            }
            start += len;
        }
        gz.finish().unwrap().out
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    /// Text-like, compressible, but not trivially so.
    fn sample(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_u32;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if i % 7 == 0 {
                    b"abcdefgh"[(state % 8) as usize]
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect()
    }

    #[test]
    fn empty_stream_is_header_final_block_and_zero_trailer() {
        let bytes = encode(&[], &[0]);
        let mut expected = GZIP_HEADER.to_vec();
        expected.extend_from_slice(&[0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes, expected);
        assert!(gunzip(&bytes).is_empty());
    }

    #[test]
    fn chunk_boundaries_round_trip() {
        for len in [
            1,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            2 * CHUNK_SIZE + 17,
        ] {
            let data = sample(len);
            let bytes = encode(&data, &[len]);
            assert_eq!(gunzip(&bytes), data, "length {len}");
            let trailer = &bytes[bytes.len() - 8..];
            assert_eq!(trailer[..4], crc32fast::hash(&data).to_le_bytes());
            assert_eq!(trailer[4..], (len as u32).to_le_bytes());
        }
    }

    #[test]
    fn exactly_one_mib_is_one_chunk_and_one_more_byte_is_two() {
        let data = sample(CHUNK_SIZE + 1);
        let one = encode(&data[..CHUNK_SIZE], &[CHUNK_SIZE]);
        let (z0, _) = compress_chunk(&data[..CHUNK_SIZE]);
        assert_eq!(&one[10..10 + z0.len()], &z0[..]);
        assert_eq!(one.len(), 10 + z0.len() + 2 + 8);

        let two = encode(&data, &[CHUNK_SIZE + 1]);
        let (z1, _) = compress_chunk(&data[CHUNK_SIZE..]);
        assert_eq!(&two[10..10 + z0.len()], &z0[..]);
        assert_eq!(&two[10 + z0.len()..10 + z0.len() + z1.len()], &z1[..]);
    }

    #[test]
    fn every_chunk_ends_with_a_full_flush_marker() {
        for len in [1, 1000, CHUNK_SIZE] {
            let (z, _) = compress_chunk(&sample(len));
            assert_eq!(&z[z.len() - 4..], &[0x00, 0x00, 0xff, 0xff], "length {len}");
        }
    }

    #[test]
    fn reused_compressor_matches_a_fresh_one() {
        let mut reused = ChunkCompressor::new();
        let mut out = Vec::new();
        let first = sample(300_000);
        reused.compress(&first, &mut out);
        let second = sample(CHUNK_SIZE);
        let crc = reused.compress(&second[1000..], &mut out);
        assert_eq!((out, crc), compress_chunk(&second[1000..]));
    }

    #[test]
    fn incompressible_chunk_grows_the_buffer_until_done() {
        let mut state = 1u64;
        let noise: Vec<u8> = (0..CHUNK_SIZE)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        let bytes = encode(&noise, &[CHUNK_SIZE]);
        assert_eq!(gunzip(&bytes), noise);
    }

    #[test]
    fn components_restart_chunking_at_their_start() {
        let data = sample(CHUNK_SIZE + 10);
        // As one component the second chunk is 10 bytes; split after 5 bytes, the first
        // component's chunk is 5 bytes and the second component starts a fresh chunk.
        let split = encode(&data, &[5, CHUNK_SIZE + 5]);
        let (z_head, _) = compress_chunk(&data[..5]);
        assert_eq!(&split[10..10 + z_head.len()], &z_head[..]);
        assert_eq!(gunzip(&split), data);
        assert_ne!(split, encode(&data, &[CHUNK_SIZE + 10]));
    }
}
