//! Just enough of the protobuf wire format to read the messages we load: a SentencePiece `.model` file, an ONNX
//! model's initializers. Zero-copy: byte fields borrow from the buffer.

#[derive(Debug)]
pub enum Value<'a> {
    Varint(u64),
    Fixed32(u32),
    /// Skipped: no field we read is 64-bit fixed.
    Fixed64,
    Bytes(&'a [u8]),
}

/// Iterates over the (field number, value) pairs of one message.
pub struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Fields<'a> {
        Fields { buf }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }
}

impl<'a> Iterator for Fields<'a> {
    /// `Err(())` on a malformed message.
    type Item = Result<(u32, Value<'a>), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let parsed = (|| {
            let key = self.varint()?;
            let value = match key & 7 {
                0 => Value::Varint(self.varint()?),
                1 => {
                    self.take(8)?;
                    Value::Fixed64
                }
                2 => {
                    let n = self.varint()? as usize;
                    Value::Bytes(self.take(n)?)
                }
                5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
                _ => return None,
            };
            Some(((key >> 3) as u32, value))
        })();
        match parsed {
            Some(v) => Some(Ok(v)),
            None => {
                self.buf = &[];
                Some(Err(()))
            }
        }
    }
}

/// A packed varint field that ends inside a value.
#[derive(Debug, thiserror::Error)]
#[error("a packed varint field is cut short")]
pub struct Truncated;

/// The values of a packed `repeated` varint field (how proto3 writes an ONNX tensor's `dims`).
pub fn packed_varints(mut buf: &[u8]) -> Result<Vec<u64>, Truncated> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let (&b, rest) = buf.split_first().ok_or(Truncated)?;
            buf = rest;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift >= 64 {
                return Err(Truncated);
            }
        }
        out.push(v);
    }
    Ok(out)
}
