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

/// At most this many characters of a file's text in a message.
const QUOTED: usize = 80;

/// `s`, cut at `QUOTED` characters: a message quotes a stranger's file, never copies it whole.
pub fn quoted(s: &str) -> String {
    match s.char_indices().nth(QUOTED) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or_default()),
        None => s.to_string(),
    }
}

impl Value {
    /// A short description for messages ("a dict", "the string 'x'").
    pub fn describe(&self) -> String {
        let text = match self {
            Value::None => "None".into(),
            Value::Bool(b) => format!("the bool {b}"),
            Value::Int(i) => format!("the int {i}"),
            Value::Float(f) => format!("the float {f}"),
            Value::Str(s) => format!("the string '{}'", quoted(s)),
            Value::Bytes(_) => "bytes".into(),
            Value::List(_) => "a list".into(),
            Value::Tuple(_) => "a tuple".into(),
            Value::Dict(_) => "a dict".into(),
            Value::Tensor(t) => format!("a {} tensor {:?}", t.dtype.name(), t.shape),
            Value::Global(g) => format!("the global {}", quoted(g)),
            Value::Storage { .. } => "a storage".into(),
        };
        quoted(&text)
    }
}

/// What building a value costs, roughly in bytes: the node and the text it owns.
const NODE: usize = std::mem::size_of::<Value>();

/// The most a pickle may build, its memo's copies included. A state dict's pickle builds a few kB per tensor;
/// without a bound, a memoized list appended to itself doubles with every 3 bytes of input.
pub const MAX_BUILT: usize = 64 << 20;

/// How deep values may nest: a state dict nests about 5 levels (dict, dict, tensor arguments, tuple, int).
pub const MAX_DEPTH: usize = 100;

/// A value on the stack or in the memo, with what copying it costs and how deep it nests.
#[derive(Clone)]
struct Node {
    v: Value,
    weight: usize,
    depth: usize,
}

enum Item {
    Mark,
    V(Node),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| bad("the pickle ends early"))?;
        let s = self.data.get(self.pos..end).ok_or_else(|| bad("the pickle ends early"))?;
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ImportError> {
        self.take(N)?.try_into().map_err(|_| bad("the pickle ends early"))
    }
    fn u8(&mut self) -> Result<u8, ImportError> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, ImportError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, ImportError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ImportError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// A length in the file, as a count of bytes that must follow (32-bit on the page).
    fn len64(&mut self) -> Result<usize, ImportError> {
        usize::try_from(self.u64()?).map_err(|_| bad("the pickle ends early"))
    }
    fn line(&mut self) -> Result<String, ImportError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("a GLOBAL without its newline"))?;
        let s = String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a GLOBAL name that is not UTF-8"))?;
        self.take(1)?;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<String, ImportError> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("a string that is not UTF-8"))
    }
}

fn bad(why: &str) -> ImportError {
    ImportError::Pickle(why.to_string())
}

/// The unpickler's state: the stack, the memo, and what has been built so far.
struct Machine {
    stack: Vec<Item>,
    memo: HashMap<u32, Node>,
    built: usize,
}

impl Machine {
    /// Counts `weight` more bytes built; refuses past [`MAX_BUILT`].
    fn spend(&mut self, weight: usize) -> Result<(), ImportError> {
        self.built = self.built.saturating_add(weight);
        if self.built > MAX_BUILT {
            return Err(ImportError::Pickle(format!(
                "it builds more than {} MB of objects (by copying its memo over and over, or by sheer size); a dictionary of tensors needs a few kB per tensor",
                MAX_BUILT >> 20
            )));
        }
        Ok(())
    }

    /// A value made from nothing on the stack (a leaf, or an empty container).
    fn push(&mut self, v: Value) -> Result<(), ImportError> {
        let weight = NODE
            + match &v {
                Value::Str(s) | Value::Global(s) | Value::Storage { key: s, .. } => s.len(),
                Value::Bytes(b) => b.len(),
                Value::Tensor(t) => t.key.len() + 8 * (t.shape.len() + t.stride.len()),
                _ => 0,
            };
        self.spend(weight)?;
        self.stack.push(Item::V(Node { v, weight, depth: 1 }));
        Ok(())
    }

    fn mark(&mut self) -> Result<(), ImportError> {
        self.spend(NODE)?;
        self.stack.push(Item::Mark);
        Ok(())
    }

    /// A container made of `items` (moved, not copied).
    fn push_of(&mut self, v: impl FnOnce(Vec<Value>) -> Value, items: Vec<Node>) -> Result<(), ImportError> {
        self.spend(NODE)?;
        let node = Node { v: Value::None, weight: NODE, depth: 1 };
        let node = items.iter().try_fold(node, grown)?;
        let values = items.into_iter().map(|i| i.v).collect();
        self.stack.push(Item::V(Node { v: v(values), ..node }));
        Ok(())
    }

    fn pop(&mut self) -> Result<Node, ImportError> {
        match self.stack.pop() {
            Some(Item::V(v)) => Ok(v),
            _ => Err(bad("the pickle's stack is malformed")),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Node>, ImportError> {
        let at = self.stack.iter().rposition(|i| matches!(i, Item::Mark)).ok_or_else(|| bad("no MARK on the stack"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items.into_iter().filter_map(|i| if let Item::V(v) = i { Some(v) } else { None }).collect())
    }

    fn top_mut(&mut self) -> Result<&mut Node, ImportError> {
        match self.stack.last_mut() {
            Some(Item::V(v)) => Ok(v),
            _ => Err(bad("the pickle's stack is malformed")),
        }
    }
}

/// `container` after `child` was added to it: heavier, and deeper where the child is.
fn grown(container: Node, child: &Node) -> Result<Node, ImportError> {
    let depth = container.depth.max(child.depth + 1);
    if depth > MAX_DEPTH {
        return Err(ImportError::Pickle(format!(
            "its objects nest more than {MAX_DEPTH} levels deep; a dictionary of tensors nests about 5"
        )));
    }
    Ok(Node { weight: container.weight.saturating_add(child.weight), depth, ..container })
}

/// Adds `children` to the container on top of the stack with `add`.
fn add_to_top(
    m: &mut Machine,
    children: Vec<Node>,
    what: &str,
    add: impl FnOnce(&mut Value, Vec<Value>) -> bool,
) -> Result<(), ImportError> {
    let top = m.top_mut()?;
    let mut shape = Node { v: Value::None, weight: top.weight, depth: top.depth };
    for c in &children {
        shape = grown(shape, c)?;
    }
    if !add(&mut top.v, children.into_iter().map(|c| c.v).collect()) {
        return Err(ImportError::Pickle(format!("{what} on something that is not a {}", what_takes(what))));
    }
    (top.weight, top.depth) = (shape.weight, shape.depth);
    Ok(())
}

fn what_takes(op: &str) -> &'static str {
    if op.starts_with("SETITEM") {
        "dict"
    } else {
        "list"
    }
}

/// Parses `data.pkl` into a value tree.
pub fn parse(data: &[u8]) -> Result<Value, ImportError> {
    let mut r = Reader { data, pos: 0 };
    let mut m = Machine { stack: Vec::new(), memo: HashMap::new(), built: 0 };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?; // PROTO
            }
            0x95 => {
                r.u64()?; // FRAME: a length hint
            }
            b'.' => return Ok(m.pop()?.v),
            b'}' => m.push(Value::Dict(Vec::new()))?,
            b']' => m.push(Value::List(Vec::new()))?,
            b')' => m.push(Value::Tuple(Vec::new()))?,
            b'(' => m.mark()?,
            b'N' => m.push(Value::None)?,
            0x88 => m.push(Value::Bool(true))?,
            0x89 => m.push(Value::Bool(false))?,
            b'K' => m.push(Value::Int(r.u8()? as i64))?,
            b'M' => m.push(Value::Int(r.u16()? as i64))?,
            b'J' => m.push(Value::Int(r.u32()? as i32 as i64))?,
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
                if n < 8 && b.last().is_some_and(|&x| x & 0x80 != 0) {
                    v -= 1i64 << (8 * n);
                }
                m.push(Value::Int(v))?;
            }
            b'G' => m.push(Value::Float(f64::from_be_bytes(r.array()?)))?,
            b'X' => {
                let n = r.u32()? as usize;
                m.push(Value::Str(r.utf8(n)?))?;
            }
            0x8c => {
                let n = r.u8()? as usize;
                m.push(Value::Str(r.utf8(n)?))?;
            }
            0x8d => {
                let n = r.len64()?;
                m.push(Value::Str(r.utf8(n)?))?;
            }
            b'C' => {
                let n = r.u8()? as usize;
                m.push(Value::Bytes(r.take(n)?.to_vec()))?;
            }
            b'B' => {
                let n = r.u32()? as usize;
                m.push(Value::Bytes(r.take(n)?.to_vec()))?;
            }
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => r.u8()? as u32,
                    b'r' => r.u32()?,
                    _ => u32::try_from(m.memo.len()).map_err(|_| bad("too many memo entries"))?,
                };
                // The memo holds a copy: counted before it is made.
                let weight = match m.stack.last() {
                    Some(Item::V(v)) => v.weight,
                    _ => return Err(bad("PUT with nothing on the stack")),
                };
                m.spend(weight)?;
                if let Some(Item::V(v)) = m.stack.last() {
                    m.memo.insert(key, v.clone());
                }
            }
            b'h' | b'j' => {
                let key = if op == b'h' { r.u8()? as u32 } else { r.u32()? };
                let entry = m.memo.get(&key).ok_or_else(|| bad("GET of an unknown memo entry"))?.weight;
                m.spend(entry)?;
                if let Some(v) = m.memo.get(&key).cloned() {
                    m.stack.push(Item::V(v));
                }
            }
            b't' => {
                let items = m.pop_mark()?;
                m.push_of(Value::Tuple, items)?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(m.pop()?);
                }
                items.reverse();
                m.push_of(Value::Tuple, items)?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                m.push(Value::Global(format!("{module}.{name}")))?;
            }
            0x93 => {
                let name = m.pop()?.v;
                let module = m.pop()?.v;
                match (module, name) {
                    (Value::Str(a), Value::Str(b)) => m.push(Value::Global(format!("{a}.{b}")))?,
                    _ => return Err(bad("STACK_GLOBAL without two strings")),
                }
            }
            b'Q' => {
                let pid = m.pop()?.v;
                m.push(storage(pid)?)?;
            }
            b'R' => {
                let args = m.pop()?.v;
                let callable = m.pop()?.v;
                m.push(reduce(callable, args)?)?;
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                add_to_top(&mut m, vec![k, v], "SETITEM", |top, mut kv| match top {
                    Value::Dict(d) => {
                        let v = kv.pop().unwrap_or(Value::None);
                        let k = kv.pop().unwrap_or(Value::None);
                        d.push((k, v));
                        true
                    }
                    _ => false,
                })?;
            }
            b'u' => {
                let items = m.pop_mark()?;
                if items.len() % 2 != 0 {
                    return Err(bad("SETITEMS with an odd number of items"));
                }
                add_to_top(&mut m, items, "SETITEMS", |top, items| match top {
                    Value::Dict(d) => {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.push((k, v));
                        }
                        true
                    }
                    _ => false,
                })?;
            }
            b'a' => {
                let v = m.pop()?;
                add_to_top(&mut m, vec![v], "APPEND", |top, items| match top {
                    Value::List(l) => {
                        l.extend(items);
                        true
                    }
                    _ => false,
                })?;
            }
            b'e' => {
                let items = m.pop_mark()?;
                add_to_top(&mut m, items, "APPENDS", |top, items| match top {
                    Value::List(l) => {
                        l.extend(items);
                        true
                    }
                    _ => false,
                })?;
            }
            b'b' => {
                // BUILD: only the empty state that an OrderedDict may carry.
                let state = m.pop()?.v;
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
        // 32 bits on the page: a size past that is refused, never wrapped.
        Value::Int(i) if *i >= 0 => usize::try_from(*i)
            .map_err(|_| ImportError::Pickle(format!("a tensor's {what} {i} is more than this machine can address"))),
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
    fn a_memoized_string_copied_over_and_over_is_counted_by_its_bytes() {
        // A 1 MB string, memoized, then fetched 100 times: 100 MB built from 1 MB of pickle.
        let mut p = vec![0x80, 2, b'X'];
        p.extend((1u32 << 20).to_le_bytes());
        p.extend(std::iter::repeat_n(b'a', 1 << 20));
        p.extend([b'q', 0]);
        for _ in 0..100 {
            p.extend([b'h', 0]);
        }
        p.push(b'.');
        let e = parse(&p).unwrap_err().to_string();
        assert!(e.contains("it builds more than 64 MB of objects"), "{e}");
    }

    #[test]
    fn a_length_beyond_the_file_is_refused() {
        for len in [u64::MAX, 1 << 32, 6] {
            let mut p = vec![0x80, 2, 0x8d];
            p.extend(len.to_le_bytes());
            p.extend(b"abc.");
            assert_eq!(
                parse(&p).unwrap_err().to_string(),
                "the artifact's pickle cannot be read: the pickle ends early"
            );
        }
    }

    #[test]
    fn messages_quote_a_file_s_text_briefly() {
        let long = "é".repeat(1000);
        let q = quoted(&long);
        assert_eq!((q.chars().count(), q.ends_with('…')), (81, true));
        assert_eq!(quoted("short"), "short");
        assert!(Value::Str(long).describe().chars().count() <= 81);
    }

    #[test]
    fn refuses_unknown_opcodes() {
        let e = parse(&[0x80, 2, 0x81, b'.']).unwrap_err().to_string();
        assert!(e.contains("0x81"), "{e}");
    }
}
