//! The pickle inside a `torch.save` file, read by an allow-list: the opcodes that `torch.save` writes for
//! dictionaries of tensors, and only the Python callables that rebuild a tensor or an empty `OrderedDict`.
//! Anything else (any other global, `NEWOBJ`, `BUILD` with state) is refused by name, so a hostile or unfamiliar
//! file never runs code and never becomes a half-read model.
//!
//! Why our own: `serde-pickle` keeps neither persistent ids nor the names of globals, which a tensor needs;
//! `pytorch-reader` reads only from a path on disk, and the page has no disk.

use std::collections::HashMap;

use crate::ImportError;

/// A tensor's element type, as torch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
    BF16,
    F64,
    I8,
    U8,
    I32,
    I64,
    Bool,
    /// float8_e4m3fn: one byte, no scale (the MDLM's format).
    F8E4M3,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I8 | DType::U8 | DType::Bool | DType::F8E4M3 => 1,
        }
    }

    /// The dtype a `torch.<Name>Storage` class holds.
    fn of_storage(class: &str) -> Option<DType> {
        Some(match class {
            "FloatStorage" => DType::F32,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "DoubleStorage" => DType::F64,
            "CharStorage" => DType::I8,
            "ByteStorage" => DType::U8,
            "IntStorage" => DType::I32,
            "LongStorage" => DType::I64,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }

    /// The dtype a `torch.<name>` global stands for (`_rebuild_tensor_v3` passes one).
    fn of_global(name: &str) -> Option<DType> {
        Some(match name {
            "float32" | "float" => DType::F32,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "float64" | "double" => DType::F64,
            "int8" => DType::I8,
            "uint8" => DType::U8,
            "int32" | "int" => DType::I32,
            "int64" | "long" => DType::I64,
            "bool" => DType::Bool,
            "float8_e4m3fn" => DType::F8E4M3,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F64 => "float64",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::Bool => "bool",
            DType::F8E4M3 => "float8_e4m3fn",
        }
    }
}

/// A tensor as the pickle describes it; its bytes are in the container's `data/<key>` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRef {
    pub dtype: DType,
    pub key: String,
    /// In elements of `dtype`.
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Keys in the order the file gives them.
    Dict(Vec<(Value, Value)>),
    Tensor(TensorRef),
    /// A `module.name` the file refers to; only a few can be called (see `reduce`).
    Global(String),
    /// A persistent id `('storage', class, key, location, numel)`: what a tensor's storage is.
    Storage {
        dtype: Option<DType>,
        key: String,
    },
}

impl Value {
    /// A short description for messages ("a dict", "the string 'x'").
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => format!("the bool {b}"),
            Value::Int(i) => format!("the int {i}"),
            Value::Float(f) => format!("the float {f}"),
            Value::Str(s) => format!("the string '{s}'"),
            Value::Bytes(_) => "bytes".into(),
            Value::List(_) => "a list".into(),
            Value::Tuple(_) => "a tuple".into(),
            Value::Dict(_) => "a dict".into(),
            Value::Tensor(t) => format!("a {} tensor {:?}", t.dtype.name(), t.shape),
            Value::Global(g) => format!("the global {g}"),
            Value::Storage { .. } => "a storage".into(),
        }
    }
}

fn top_mut(stack: &mut [Item]) -> Result<&mut Value, ImportError> {
    match stack.last_mut() {
        Some(Item::V(v)) => Ok(v),
        _ => Err(bad("the pickle's stack is malformed")),
    }
}

enum Item {
    Mark,
    V(Value),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| bad("the pickle ends early"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ImportError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ImportError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| bad("short read"))?))
    }
    fn u32(&mut self) -> Result<u32, ImportError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| bad("short read"))?))
    }
    fn u64(&mut self) -> Result<u64, ImportError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| bad("short read"))?))
    }
    fn line(&mut self) -> Result<String, ImportError> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("a GLOBAL without its newline"))?;
        let s = String::from_utf8(rest[..n].to_vec()).map_err(|_| bad("a GLOBAL name that is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<String, ImportError> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a string that is not UTF-8"))
    }
}

fn bad(why: &str) -> ImportError {
    ImportError::Pickle(why.to_string())
}

/// Parses `data.pkl` into a value tree.
pub fn parse(data: &[u8]) -> Result<Value, ImportError> {
    let mut r = Reader { data, pos: 0 };
    let mut stack: Vec<Item> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let pop = |stack: &mut Vec<Item>| -> Result<Value, ImportError> {
        match stack.pop() {
            Some(Item::V(v)) => Ok(v),
            _ => Err(bad("the pickle's stack is malformed")),
        }
    };
    let pop_mark = |stack: &mut Vec<Item>| -> Result<Vec<Value>, ImportError> {
        let at = stack.iter().rposition(|i| matches!(i, Item::Mark)).ok_or_else(|| bad("no MARK on the stack"))?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Ok(items.into_iter().filter_map(|i| if let Item::V(v) = i { Some(v) } else { None }).collect())
    };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?; // PROTO
            }
            0x95 => {
                r.u64()?; // FRAME: a length hint
            }
            b'.' => return pop(&mut stack),
            b'}' => stack.push(Item::V(Value::Dict(Vec::new()))),
            b']' => stack.push(Item::V(Value::List(Vec::new()))),
            b')' => stack.push(Item::V(Value::Tuple(Vec::new()))),
            b'(' => stack.push(Item::Mark),
            b'N' => stack.push(Item::V(Value::None)),
            0x88 => stack.push(Item::V(Value::Bool(true))),
            0x89 => stack.push(Item::V(Value::Bool(false))),
            b'K' => stack.push(Item::V(Value::Int(r.u8()? as i64))),
            b'M' => stack.push(Item::V(Value::Int(r.u16()? as i64))),
            b'J' => stack.push(Item::V(Value::Int(r.u32()? as i32 as i64))),
            0x8a => {
                let n = r.u8()? as usize;
                let b = r.take(n)?;
                if n > 8 {
                    return Err(bad("an integer wider than 64 bits"));
                }
                let mut v: i64 = 0;
                for (i, &x) in b.iter().enumerate() {
                    v |= (x as i64) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Item::V(Value::Int(v)));
            }
            b'G' => {
                let b: [u8; 8] = r.take(8)?.try_into().map_err(|_| bad("short read"))?;
                stack.push(Item::V(Value::Float(f64::from_be_bytes(b))));
            }
            b'X' => {
                let n = r.u32()? as usize;
                stack.push(Item::V(Value::Str(r.utf8(n)?)));
            }
            0x8c => {
                let n = r.u8()? as usize;
                stack.push(Item::V(Value::Str(r.utf8(n)?)));
            }
            0x8d => {
                let n = r.u64()? as usize;
                stack.push(Item::V(Value::Str(r.utf8(n)?)));
            }
            b'C' => {
                let n = r.u8()? as usize;
                stack.push(Item::V(Value::Bytes(r.take(n)?.to_vec())));
            }
            b'B' => {
                let n = r.u32()? as usize;
                stack.push(Item::V(Value::Bytes(r.take(n)?.to_vec())));
            }
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => r.u8()? as u32,
                    b'r' => r.u32()?,
                    _ => memo.len() as u32,
                };
                let v = match stack.last() {
                    Some(Item::V(v)) => v.clone(),
                    _ => return Err(bad("PUT with nothing on the stack")),
                };
                memo.insert(key, v);
            }
            b'h' | b'j' => {
                let key = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                let v = memo.get(&key).cloned().ok_or_else(|| bad("GET of an unknown memo entry"))?;
                stack.push(Item::V(v));
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Item::V(Value::Tuple(items)));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(pop(&mut stack)?);
                }
                items.reverse();
                stack.push(Item::V(Value::Tuple(items)));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Item::V(Value::Global(format!("{module}.{name}"))));
            }
            0x93 => {
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => stack.push(Item::V(Value::Global(format!("{m}.{n}")))),
                    _ => return Err(bad("STACK_GLOBAL without two strings")),
                }
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(Item::V(storage(pid)?));
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                stack.push(Item::V(reduce(callable, args)?));
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                match top_mut(&mut stack)? {
                    Value::Dict(d) => d.push((k, v)),
                    _ => return Err(bad("SETITEM on something that is not a dict")),
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack)?;
                if items.len() % 2 != 0 {
                    return Err(bad("SETITEMS with an odd number of items"));
                }
                let mut it = items.into_iter();
                let d = match top_mut(&mut stack)? {
                    Value::Dict(d) => d,
                    _ => return Err(bad("SETITEMS on something that is not a dict")),
                };
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match top_mut(&mut stack)? {
                    Value::List(l) => l.push(v),
                    _ => return Err(bad("APPEND on something that is not a list")),
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack)?;
                match top_mut(&mut stack)? {
                    Value::List(l) => l.extend(items),
                    _ => return Err(bad("APPENDS on something that is not a list")),
                }
            }
            b'b' => {
                // BUILD: only the empty state that an OrderedDict may carry.
                let state = pop(&mut stack)?;
                let empty = matches!(&state, Value::None) || matches!(&state, Value::Dict(d) if d.is_empty());
                if !empty {
                    return Err(bad("BUILD with a state (an object this importer does not read)"));
                }
            }
            other => {
                return Err(ImportError::Pickle(format!(
                    "opcode 0x{other:02x} at byte {} is not one that torch.save writes for a dictionary of tensors",
                    r.pos - 1
                )))
            }
        }
    }
}

/// `('storage', class, key, location, numel)`, the persistent id torch.save writes for a tensor's storage.
fn storage(pid: Value) -> Result<Value, ImportError> {
    let Value::Tuple(items) = pid else {
        return Err(bad("a persistent id that is not a tuple"));
    };
    match items.as_slice() {
        [Value::Str(kind), Value::Global(class), Value::Str(key), ..] if kind == "storage" => {
            let dtype = match class.strip_prefix("torch.") {
                Some("storage.UntypedStorage") => None,
                Some(c) => Some(DType::of_storage(c).ok_or_else(|| unknown_global(class))?),
                None => return Err(unknown_global(class)),
            };
            Ok(Value::Storage { dtype, key: key.clone() })
        }
        _ => Err(bad("a persistent id that is not a tensor storage")),
    }
}

fn unknown_global(name: &str) -> ImportError {
    ImportError::Pickle(format!(
        "the file refers to {name}, which is not part of a dictionary of tensors; this importer does not read it"
    ))
}

fn usize_of(v: &Value, what: &str) -> Result<usize, ImportError> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as usize),
        _ => Err(ImportError::Pickle(format!("a tensor's {what} is {}", v.describe()))),
    }
}

fn usizes(v: &Value, what: &str) -> Result<Vec<usize>, ImportError> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().map(|i| usize_of(i, what)).collect(),
        _ => Err(ImportError::Pickle(format!("a tensor's {what} is {}", v.describe()))),
    }
}

/// The callables torch.save's pickles call: the tensor rebuilders and `OrderedDict()`.
fn reduce(callable: Value, args: Value) -> Result<Value, ImportError> {
    let Value::Global(name) = callable else {
        return Err(bad("REDUCE on something that is not a global"));
    };
    let Value::Tuple(args) = args else {
        return Err(bad("REDUCE without an argument tuple"));
    };
    match name.as_str() {
        "collections.OrderedDict" if args.is_empty() => Ok(Value::Dict(Vec::new())),
        "torch._utils._rebuild_tensor_v2" | "torch._utils._rebuild_tensor_v3" => {
            let v3 = name.ends_with("v3");
            let (Some(Value::Storage { dtype, key }), Some(offset), Some(shape), Some(stride)) =
                (args.first(), args.get(1), args.get(2), args.get(3))
            else {
                return Err(bad("a tensor without its storage, offset, size and stride"));
            };
            let dtype = if v3 {
                match args.get(6) {
                    Some(Value::Global(g)) => {
                        g.strip_prefix("torch.").and_then(DType::of_global).ok_or_else(|| unknown_global(g))?
                    }
                    _ => return Err(bad("_rebuild_tensor_v3 without a dtype")),
                }
            } else {
                dtype.ok_or_else(|| bad("an untyped storage rebuilt without a dtype"))?
            };
            Ok(Value::Tensor(TensorRef {
                dtype,
                key: key.clone(),
                offset: usize_of(offset, "offset")?,
                shape: usizes(shape, "size")?,
                stride: usizes(stride, "stride")?,
            }))
        }
        other => Err(unknown_global(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_dict_of_a_string_and_a_tensor() {
        // {'a': 'x', 'w': _rebuild_tensor_v2(persid(('storage', torch.FloatStorage, '0', 'cpu', 6)), 0, (2, 3), (3, 1), False, OrderedDict())}
        let mut p = vec![0x80, 2, b'}', b'(', 0x8c, 1, b'a', 0x8c, 1, b'x', 0x8c, 1, b'w'];
        p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        p.extend_from_slice(&[0x8c, 7]);
        p.extend_from_slice(b"storage");
        p.extend_from_slice(b"ctorch\nFloatStorage\n");
        p.extend_from_slice(&[0x8c, 1, b'0', 0x8c, 3, b'c', b'p', b'u', b'K', 6, b't', b'Q']);
        p.extend_from_slice(&[b'K', 0, b'K', 2, b'K', 3, 0x86, b'K', 3, b'K', 1, 0x86, 0x89]);
        p.extend_from_slice(b"ccollections\nOrderedDict\n)R");
        p.extend_from_slice(b"tRu.");
        let v = parse(&p).unwrap();
        let Value::Dict(d) = v else { panic!("{v:?}") };
        assert_eq!(d[0], (Value::Str("a".into()), Value::Str("x".into())));
        let Value::Tensor(t) = &d[1].1 else { panic!("{:?}", d[1]) };
        assert_eq!((t.dtype, t.key.as_str(), t.offset), (DType::F32, "0", 0));
        assert_eq!((t.shape.clone(), t.stride.clone()), (vec![2, 3], vec![3, 1]));
    }

    #[test]
    fn refuses_other_callables_by_name() {
        let mut p = vec![0x80, 2];
        p.extend_from_slice(b"cos\nsystem\n(");
        p.extend_from_slice(&[0x8c, 2, b'l', b's', b't', b'R', b'.']);
        let e = parse(&p).unwrap_err().to_string();
        assert!(e.contains("os.system"), "{e}");
    }

    #[test]
    fn refuses_unknown_opcodes() {
        let e = parse(&[0x80, 2, 0x81, b'.']).unwrap_err().to_string();
        assert!(e.contains("0x81"), "{e}");
    }
}
