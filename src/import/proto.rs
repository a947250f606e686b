//! The ONNX protobuf wire format, decoded by hand: varints and
//! length-delimited fields, for exactly the messages and fields the importer
//! reads (`ModelProto`, `GraphProto`, `NodeProto`, `AttributeProto`,
//! `TensorProto`, `ValueInfoProto` and the shape inside it). Unknown fields
//! are skipped, as protobuf requires; a field cut short, a bad wire type or a
//! length past the end is an error with the byte offset where it happened.
//! Field numbers are those of `onnx/onnx.proto3`.

/// Where and why decoding stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoError {
    /// Byte offset in the file.
    pub offset: usize,
    /// What was being read (`GraphProto.node`, a varint ...).
    pub context: String,
}

#[derive(Clone, Debug, Default)]
pub struct Model {
    /// `(domain, version)`; the default domain is `""`.
    pub opsets: Vec<(String, i64)>,
    pub graph: Graph,
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

#[derive(Clone, Debug, Default)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
}

#[derive(Clone, Debug)]
pub struct Attribute {
    pub name: String,
    pub value: AttrValue,
}

/// An attribute's value. Tensors and float lists are decoded whole though
/// no supported operator reads them yet (a refusal names the attribute).
#[derive(Clone, Debug)]
#[allow(dead_code)]
pub enum AttrValue {
    Float(f32),
    Int(i64),
    Bytes(Vec<u8>),
    Tensor(Tensor),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    /// A graph, a list of strings or tensors ...: never needed by a
    /// supported operator; named so that a refusal can say which.
    Other(&'static str),
}

/// ONNX `TensorProto.DataType` values the importer reads.
pub mod dtype {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT8: i32 = 3;
    pub const UINT16: i32 = 4;
    pub const INT16: i32 = 5;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const BOOL: i32 = 9;
    pub const DOUBLE: i32 = 11;
    pub const UINT32: i32 = 12;
    pub const UINT64: i32 = 13;

    pub fn name(t: i32) -> &'static str {
        match t {
            FLOAT => "float32",
            UINT8 => "uint8",
            INT8 => "int8",
            UINT16 => "uint16",
            INT16 => "int16",
            INT32 => "int32",
            INT64 => "int64",
            BOOL => "bool",
            DOUBLE => "float64",
            UINT32 => "uint32",
            UINT64 => "uint64",
            10 => "float16",
            16 => "bfloat16",
            8 => "string",
            _ => "an unknown type",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    /// Integer elements (every integer type and bool), exact.
    pub ints: Vec<i64>,
    /// Float elements (float32 and float64; every float32 is an `f64`).
    pub floats: Vec<f64>,
    /// Stored in another file (`data_location = EXTERNAL`).
    pub external: bool,
    raw: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct ValueInfo {
    pub name: String,
    pub elem_type: i32,
    /// `None` when the type has no shape at all.
    pub dims: Option<Vec<Dim>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    /// A named (`N`) or unknown dimension.
    Symbolic(String),
}

/// Decodes a whole `ModelProto`.
pub fn decode_model(bytes: &[u8]) -> Result<Model, ProtoError> {
    let mut model = Model::default();
    let mut r = Reader::new(bytes, 0, "ModelProto");
    let mut saw_graph = false;
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (7, 2) => {
                let sub = r.sub("ModelProto.graph")?;
                model.graph = decode_graph(sub)?;
                saw_graph = true;
            }
            (8, 2) => {
                let mut sub = r.sub("ModelProto.opset_import")?;
                let (mut domain, mut version) = (String::new(), 0);
                while let Some((f, w)) = sub.key()? {
                    match (f, w) {
                        (1, 2) => domain = sub.string()?,
                        (2, 0) => version = sub.varint()? as i64,
                        _ => sub.skip(w)?,
                    }
                }
                model.opsets.push((domain, version));
            }
            _ => r.skip(wire)?,
        }
    }
    if !saw_graph {
        return Err(ProtoError {
            offset: bytes.len(),
            context: "ModelProto without a graph".into(),
        });
    }
    Ok(model)
}

fn decode_graph(mut r: Reader) -> Result<Graph, ProtoError> {
    let mut g = Graph::default();
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 2) => g.nodes.push(decode_node(r.sub("GraphProto.node")?)?),
            (5, 2) => g
                .initializers
                .push(decode_tensor(r.sub("GraphProto.initializer")?)?),
            (11, 2) => g
                .inputs
                .push(decode_value_info(r.sub("GraphProto.input")?)?),
            (12, 2) => g
                .outputs
                .push(decode_value_info(r.sub("GraphProto.output")?)?),
            _ => r.skip(wire)?,
        }
    }
    Ok(g)
}

fn decode_node(mut r: Reader) -> Result<Node, ProtoError> {
    let mut n = Node::default();
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 2) => n.inputs.push(r.string()?),
            (2, 2) => n.outputs.push(r.string()?),
            (3, 2) => n.name = r.string()?,
            (4, 2) => n.op_type = r.string()?,
            (5, 2) => n
                .attributes
                .push(decode_attribute(r.sub("NodeProto.attribute")?)?),
            (7, 2) => n.domain = r.string()?,
            _ => r.skip(wire)?,
        }
    }
    Ok(n)
}

fn decode_attribute(mut r: Reader) -> Result<Attribute, ProtoError> {
    let mut name = String::new();
    let mut value = None;
    let (mut floats, mut ints) = (vec![], vec![]);
    let mut kind = 0u64;
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 2) => name = r.string()?,
            (2, 5) => value = Some(AttrValue::Float(f32::from_bits(r.fixed32()?))),
            (3, 0) => value = Some(AttrValue::Int(r.varint()? as i64)),
            (4, 2) => value = Some(AttrValue::Bytes(r.bytes()?.to_vec())),
            (5, 2) => {
                value = Some(AttrValue::Tensor(decode_tensor(
                    r.sub("AttributeProto.t")?,
                )?))
            }
            (6, 2) => {
                r.skip(wire)?;
                value = Some(AttrValue::Other("a graph"));
            }
            (7, 5) => floats.push(f32::from_bits(r.fixed32()?)),
            (7, 2) => {
                let mut p = r.sub("AttributeProto.floats")?;
                while !p.done() {
                    floats.push(f32::from_bits(p.fixed32()?));
                }
            }
            (8, 0) => ints.push(r.varint()? as i64),
            (8, 2) => {
                let mut p = r.sub("AttributeProto.ints")?;
                while !p.done() {
                    ints.push(p.varint()? as i64);
                }
            }
            (9, 2) => {
                r.skip(wire)?;
                value = Some(AttrValue::Other("a list of strings"));
            }
            (10 | 11 | 14 | 15, _) => {
                r.skip(wire)?;
                value = Some(AttrValue::Other("a list of tensors or graphs"));
            }
            (20, 0) => kind = r.varint()?,
            _ => r.skip(wire)?,
        }
    }
    // AttributeType: FLOATS = 6, INTS = 7. An empty list has no elements to
    // tell it apart, so its type decides.
    let value = match value {
        Some(v) => v,
        None if !floats.is_empty() || kind == 6 => AttrValue::Floats(floats),
        None => AttrValue::Ints(ints),
    };
    Ok(Attribute { name, value })
}

fn decode_tensor(mut r: Reader) -> Result<Tensor, ProtoError> {
    let mut t = Tensor::default();
    let start = r.pos;
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 0) => t.dims.push(r.varint()? as i64),
            (1, 2) => {
                let mut p = r.sub("TensorProto.dims")?;
                while !p.done() {
                    t.dims.push(p.varint()? as i64);
                }
            }
            (2, 0) => t.data_type = r.varint()? as i32,
            (4, 5) => t.floats.push(f32::from_bits(r.fixed32()?) as f64),
            (4, 2) => {
                let mut p = r.sub("TensorProto.float_data")?;
                while !p.done() {
                    t.floats.push(f32::from_bits(p.fixed32()?) as f64);
                }
            }
            (5 | 7, 0) => t.ints.push(r.varint()? as i64),
            (5, 2) | (7, 2) => {
                let mut p = r.sub("TensorProto.int_data")?;
                while !p.done() {
                    t.ints.push(p.varint()? as i64);
                }
            }
            (11, 0) => t.ints.push(r.varint()? as i64),
            (11, 2) => {
                let mut p = r.sub("TensorProto.uint64_data")?;
                while !p.done() {
                    t.ints.push(p.varint()? as i64);
                }
            }
            (10, 1) => t.floats.push(f64::from_bits(r.fixed64()?)),
            (10, 2) => {
                let mut p = r.sub("TensorProto.double_data")?;
                while !p.done() {
                    t.floats.push(f64::from_bits(p.fixed64()?));
                }
            }
            (8, 2) => t.name = r.string()?,
            (9, 2) => t.raw = r.bytes()?.to_vec(),
            (13, 2) => {
                r.skip(wire)?;
                t.external = true;
            }
            (14, 0) => t.external |= r.varint()? == 1,
            _ => r.skip(wire)?,
        }
    }
    if !t.raw.is_empty() {
        decode_raw(&mut t).map_err(|context| ProtoError {
            offset: start,
            context,
        })?;
    }
    // int32_data holds the narrow types as int32 varints: negative values
    // were sign-extended to 64 bits, so the cast above restored them.
    Ok(t)
}

/// `raw_data`: little-endian elements of the tensor's type.
fn decode_raw(t: &mut Tensor) -> Result<(), String> {
    let raw = std::mem::take(&mut t.raw);
    let size = match t.data_type {
        dtype::UINT8 | dtype::INT8 | dtype::BOOL => 1,
        dtype::UINT16 | dtype::INT16 => 2,
        dtype::INT32 | dtype::UINT32 | dtype::FLOAT => 4,
        dtype::INT64 | dtype::UINT64 | dtype::DOUBLE => 8,
        other => {
            return Err(format!(
                "tensor `{}` holds {}, which the importer does not read",
                t.name,
                dtype::name(other)
            ))
        }
    };
    if !raw.len().is_multiple_of(size) {
        return Err(format!(
            "tensor `{}`: raw_data of {} bytes is not a whole number of {size}-byte elements",
            t.name,
            raw.len()
        ));
    }
    for chunk in raw.chunks_exact(size) {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(chunk);
        let u = u64::from_le_bytes(b);
        match t.data_type {
            dtype::UINT8 | dtype::BOOL | dtype::UINT16 | dtype::UINT32 => t.ints.push(u as i64),
            dtype::INT8 => t.ints.push(u as u8 as i8 as i64),
            dtype::INT16 => t.ints.push(u as u16 as i16 as i64),
            dtype::INT32 => t.ints.push(u as u32 as i32 as i64),
            dtype::INT64 | dtype::UINT64 => t.ints.push(u as i64),
            dtype::FLOAT => t.floats.push(f32::from_bits(u as u32) as f64),
            _ => t.floats.push(f64::from_bits(u)),
        }
    }
    Ok(())
}

fn decode_value_info(mut r: Reader) -> Result<ValueInfo, ProtoError> {
    let mut v = ValueInfo::default();
    while let Some((field, wire)) = r.key()? {
        match (field, wire) {
            (1, 2) => v.name = r.string()?,
            (2, 2) => {
                let mut ty = r.sub("TypeProto")?;
                while let Some((f, w)) = ty.key()? {
                    if (f, w) != (1, 2) {
                        ty.skip(w)?;
                        continue;
                    }
                    let mut tt = ty.sub("TypeProto.tensor_type")?;
                    while let Some((f, w)) = tt.key()? {
                        match (f, w) {
                            (1, 0) => v.elem_type = tt.varint()? as i32,
                            (2, 2) => v.dims = Some(decode_shape(tt.sub("TensorShapeProto")?)?),
                            _ => tt.skip(w)?,
                        }
                    }
                }
            }
            _ => r.skip(wire)?,
        }
    }
    Ok(v)
}

fn decode_shape(mut r: Reader) -> Result<Vec<Dim>, ProtoError> {
    let mut dims = vec![];
    while let Some((field, wire)) = r.key()? {
        if (field, wire) != (1, 2) {
            r.skip(wire)?;
            continue;
        }
        let mut d = r.sub("TensorShapeProto.dim")?;
        let mut dim = Dim::Symbolic(String::new());
        while let Some((f, w)) = d.key()? {
            match (f, w) {
                (1, 0) => dim = Dim::Fixed(d.varint()? as i64),
                (2, 2) => dim = Dim::Symbolic(d.string()?),
                _ => d.skip(w)?,
            }
        }
        dims.push(dim);
    }
    Ok(dims)
}

/// A cursor over one message's bytes; `base` is the message's offset in
/// the file, for errors.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
    context: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize, context: &'static str) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
            context,
        }
    }

    fn fail(&self, what: &str) -> ProtoError {
        ProtoError {
            offset: self.base + self.pos,
            context: format!("{what} in {}", self.context),
        }
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next field's number and wire type, or `None` at the end.
    fn key(&mut self) -> Result<Option<(u64, u8)>, ProtoError> {
        if self.done() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        if key >> 3 == 0 {
            return Err(self.fail("field number 0"));
        }
        Ok(Some((key >> 3, wire)))
    }

    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.fail("a varint cut short by the end of the data"));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.fail("a varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.fail(&format!(
                "{what} of {n} bytes past the end of the data (truncated file?)"
            )));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed32(&mut self) -> Result<u32, ProtoError> {
        let b = self.take(4, "a 32-bit value")?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn fixed64(&mut self) -> Result<u64, ProtoError> {
        let b = self.take(8, "a 64-bit value")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtoError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.fail("a length too large"))?;
        self.take(n, "a length-delimited field")
    }

    fn string(&mut self) -> Result<String, ProtoError> {
        let at = self.pos;
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| ProtoError {
            offset: self.base + at,
            context: format!("a string that is not UTF-8 in {}", self.context),
        })
    }

    fn sub(&mut self, context: &'static str) -> Result<Reader<'a>, ProtoError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.fail("a length too large"))?;
        let base = self.base + self.pos;
        let b = self.take(n, context)?;
        Ok(Reader::new(b, base, context))
    }

    fn skip(&mut self, wire: u8) -> Result<(), ProtoError> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8, "a 64-bit value").map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => self.take(4, "a 32-bit value").map(|_| ()),
            _ => Err(self.fail(&format!("wire type {wire}, which protobuf 3 does not use"))),
        }
    }
}
