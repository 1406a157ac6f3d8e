//! The part of ONNX's protobuf schema (onnx.proto, proto2) that a graph of ours uses, as prost messages, and a
//! small builder that names values the way `scripts/ar/export_onnx.py` does.

use prost::Message;

/// TensorProto.DataType values.
pub mod dtype {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const FLOAT16: i32 = 10;
    pub const BFLOAT16: i32 = 16;
}

#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, optional, tag = "1")]
    pub ir_version: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub producer_name: Option<String>,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    #[prost(string, optional, tag = "1")]
    pub domain: Option<String>,
    #[prost(int64, optional, tag = "2")]
    pub version: Option<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub op_type: Option<String>,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
    /// AttributeType: FLOAT 1, INT 2, INTS 7.
    #[prost(int32, optional, tag = "20")]
    pub r#type: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, optional, tag = "2")]
    pub data_type: Option<i32>,
    #[prost(string, optional, tag = "8")]
    pub name: Option<String>,
    #[prost(bytes = "vec", optional, tag = "9")]
    pub raw_data: Option<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `oneof value { Tensor tensor_type = 1; ... }`: the one member we write.
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorType>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorType {
    #[prost(int32, optional, tag = "1")]
    pub elem_type: Option<i32>,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `oneof value { int64 dim_value = 1; string dim_param = 2; }`.
#[derive(Clone, PartialEq, Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

/// A dimension of a graph input or output: fixed, or named (`"T"`).
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

pub fn value_info(name: &str, elem_type: i32, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(v) => Dimension { dim_value: Some(*v), dim_param: None },
            Dim::Named(p) => Dimension { dim_value: None, dim_param: Some(p.to_string()) },
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorType { elem_type: Some(elem_type), shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

/// A node attribute.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

/// Nodes and initializers, with fresh names `hint_N`.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<NodeProto>,
    pub inits: Vec<TensorProto>,
    n: usize,
}

impl Graph {
    pub fn name(&mut self, hint: &str) -> String {
        self.n += 1;
        format!("{hint}_{}", self.n)
    }

    /// A node with `outputs` named by the caller.
    pub fn op_into(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: &[(&str, Attr)]) {
        let mut attribute: Vec<AttributeProto> = attrs
            .iter()
            .map(|(name, a)| {
                let mut p = AttributeProto { name: Some(name.to_string()), ..Default::default() };
                match a {
                    Attr::Int(i) => (p.i, p.r#type) = (Some(*i), Some(2)),
                    Attr::Ints(v) => (p.ints, p.r#type) = (v.clone(), Some(7)),
                    Attr::Float(f) => (p.f, p.r#type) = (Some(*f), Some(1)),
                }
                p
            })
            .collect();
        attribute.sort_by(|a, b| a.name.cmp(&b.name));
        let name = self.name(&format!("n_{op}"));
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name: Some(name),
            op_type: Some(op.into()),
            attribute,
        });
    }

    /// A node with `n` fresh outputs named after `hint` (or the op).
    pub fn op_n(&mut self, op: &str, inputs: &[&str], hint: &str, n: usize, attrs: &[(&str, Attr)]) -> Vec<String> {
        let hint = if hint.is_empty() { op.to_lowercase() } else { hint.to_string() };
        let outs: Vec<String> = (0..n).map(|_| self.name(&hint)).collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        self.op_into(op, inputs, &refs, attrs);
        outs
    }

    pub fn op(&mut self, op: &str, inputs: &[&str], hint: &str, attrs: &[(&str, Attr)]) -> String {
        self.op_n(op, inputs, hint, 1, attrs).remove(0)
    }

    /// An initializer from little-endian bytes.
    pub fn raw(&mut self, hint: &str, data_type: i32, dims: &[usize], bytes: Vec<u8>) -> String {
        let name = self.name(hint);
        self.inits.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type),
            name: Some(name.clone()),
            raw_data: Some(bytes),
        });
        name
    }

    pub fn f32s(&mut self, hint: &str, dims: &[usize], values: &[f32]) -> String {
        self.raw(hint, dtype::FLOAT, dims, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    pub fn f32(&mut self, hint: &str, value: f32) -> String {
        self.f32s(hint, &[], &[value])
    }

    pub fn i64s(&mut self, hint: &str, values: &[i64]) -> String {
        self.raw(hint, dtype::INT64, &[values.len()], values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    pub fn i64(&mut self, hint: &str, value: i64) -> String {
        self.raw(hint, dtype::INT64, &[], value.to_le_bytes().to_vec())
    }

    /// The model file.
    pub fn into_model(self, name: &str, inputs: Vec<ValueInfoProto>, outputs: Vec<ValueInfoProto>) -> Vec<u8> {
        ModelProto {
            ir_version: Some(9),
            producer_name: Some("four-golfers".into()),
            graph: Some(GraphProto {
                node: self.nodes,
                name: Some(name.into()),
                initializer: self.inits,
                input: inputs,
                output: outputs,
            }),
            opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(18) }],
        }
        .encode_to_vec()
    }
}
