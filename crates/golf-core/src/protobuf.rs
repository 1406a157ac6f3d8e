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
            // The tenth byte holds bit 63 only: anything more does not fit in 64 bits.
            if shift == 63 && b & 0x7e != 0 {
                return None;
            }
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
            // Field numbers are 1 to 2^29 - 1: a bigger one cut to 32 bits would pass for a small one.
            let field = u32::try_from(key >> 3).ok().filter(|f| (1..1 << 29).contains(f))?;
            let value = match key & 7 {
                0 => Value::Varint(self.varint()?),
                1 => {
                    self.take(8)?;
                    Value::Fixed64
                }
                2 => {
                    // Checked, not cast: on wasm32 a length of 2^32 + 5 would otherwise read as 5.
                    let n = usize::try_from(self.varint()?).ok()?;
                    Value::Bytes(self.take(n)?)
                }
                5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
                _ => return None,
            };
            Some((field, value))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    }

    #[test]
    fn reads_fields_of_each_wire_type() {
        let mut msg = varint(1 << 3);
        msg.extend(varint(300));
        msg.extend(varint(2 << 3 | 2));
        msg.extend([3, b'a', b'b', b'c']);
        msg.extend(varint(3 << 3 | 5));
        msg.extend(7u32.to_le_bytes());
        msg.extend(varint(4 << 3 | 1));
        msg.extend([0; 8]);
        let got: Vec<_> = Fields::new(&msg).collect::<Result<_, _>>().unwrap();
        assert!(matches!(got[0], (1, Value::Varint(300))));
        assert!(matches!(got[1], (2, Value::Bytes(b"abc"))));
        assert!(matches!(got[2], (3, Value::Fixed32(7))));
        assert!(matches!(got[3], (4, Value::Fixed64)));
    }

    #[test]
    fn a_field_number_past_32_bits_is_refused_not_cut() {
        // (2^32 + 1) << 3 | 2: cut to 32 bits it would read as field 1, a SentencePiece model's pieces.
        let mut msg = varint(((1u64 << 32) + 1) << 3 | 2);
        msg.extend([1, b'x']);
        assert!(matches!(Fields::new(&msg).next(), Some(Err(()))));
        // Field 0 does not exist either.
        assert!(matches!(Fields::new(&[0, 1]).next(), Some(Err(()))));
    }

    #[test]
    fn a_varint_past_64_bits_is_refused() {
        let mut msg = vec![1 << 3];
        msg.extend([0xff; 9]);
        msg.push(0x01); // bit 63: still fits
        assert!(matches!(Fields::new(&msg).next(), Some(Ok((1, Value::Varint(u64::MAX))))));
        let last = msg.len() - 1;
        msg[last] = 0x02; // bit 64: does not
        assert!(matches!(Fields::new(&msg).next(), Some(Err(()))));
    }

    #[test]
    fn a_length_past_the_message_is_refused() {
        let mut msg = varint(1 << 3 | 2);
        msg.extend(varint((1 << 32) + 1));
        msg.push(b'x');
        assert!(matches!(Fields::new(&msg).next(), Some(Err(()))));
        let mut iter = Fields::new(&msg);
        iter.next();
        assert!(iter.next().is_none(), "nothing is read after a malformed field");
    }
}
