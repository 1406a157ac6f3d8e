//! What the fuzz targets share: zlib itself, called through its C API, as the reference for our DEFLATE code.

pub mod zlib {
    use libz_sys as z;
    use std::mem::MaybeUninit;

    /// zlib's raw DEFLATE (no header) at level 9 with gzip's settings (32 KB window, memLevel 8, default
    /// strategy): the stream `gzip -9` writes and the gzip golfer reproduces bit for bit.
    pub fn deflate_raw9(input: &[u8]) -> Vec<u8> {
        unsafe {
            // zlib wants zalloc/zfree null (its own allocator), which Rust's fn-pointer fields cannot hold: the
            // stream stays behind a raw pointer to zeroed memory and is only touched through it.
            let mut stream = MaybeUninit::<z::z_stream>::zeroed();
            let s = stream.as_mut_ptr();
            let version = z::zlibVersion();
            let rc = z::deflateInit2_(
                s,
                9,
                z::Z_DEFLATED,
                -15,
                8,
                z::Z_DEFAULT_STRATEGY,
                version,
                std::mem::size_of::<z::z_stream>() as i32,
            );
            assert_eq!(rc, z::Z_OK, "deflateInit2");
            let bound = z::deflateBound(s, input.len() as z::uLong) as usize + 64;
            let mut out = vec![0u8; bound];
            (*s).next_in = input.as_ptr() as *mut u8;
            (*s).avail_in = input.len() as u32;
            (*s).next_out = out.as_mut_ptr();
            (*s).avail_out = out.len() as u32;
            let rc = z::deflate(s, z::Z_FINISH);
            assert_eq!(rc, z::Z_STREAM_END, "deflate did not finish in deflateBound's room");
            out.truncate((*s).total_out as usize);
            z::deflateEnd(s);
            out
        }
    }

    /// zlib's raw inflate of `stream` into at most `limit` bytes, and whether whole bytes were left after the final
    /// block: `None` when zlib refuses the stream, when it ends before its last block, or when it decodes to more
    /// than `limit` bytes.
    pub fn inflate_raw(input: &[u8], limit: usize) -> Option<(Vec<u8>, bool)> {
        unsafe {
            let mut stream = MaybeUninit::<z::z_stream>::zeroed();
            let s = stream.as_mut_ptr();
            let rc = z::inflateInit2_(s, -15, z::zlibVersion(), std::mem::size_of::<z::z_stream>() as i32);
            assert_eq!(rc, z::Z_OK, "inflateInit2");
            // One byte of room past the limit tells "exactly the limit" from "more than the limit".
            let mut out = vec![0u8; limit + 1];
            (*s).next_in = input.as_ptr() as *mut u8;
            (*s).avail_in = input.len() as u32;
            (*s).next_out = out.as_mut_ptr();
            (*s).avail_out = out.len() as u32;
            let rc = z::inflate(s, z::Z_FINISH);
            let produced = (*s).total_out as usize;
            let left = (*s).avail_in > 0;
            z::inflateEnd(s);
            (rc == z::Z_STREAM_END && produced <= limit).then(|| {
                out.truncate(produced);
                (out, left)
            })
        }
    }

    /// The linked zlib's version, for the log.
    pub fn version() -> String {
        unsafe { std::ffi::CStr::from_ptr(z::zlibVersion()).to_string_lossy().into_owned() }
    }
}
