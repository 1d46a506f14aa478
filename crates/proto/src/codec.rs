//! The gRPC codec of every feedline service: prost, except that a request that does not decode
//! (invalid UTF-8 in a `string`, a truncated field) is INVALID_ARGUMENT naming the field, not
//! tonic's default INTERNAL, because the fault is the caller's and it must learn which field.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;
use tonic_types::{ErrorDetails, StatusExt as _};

/// prost encoding with field-naming decode errors; generated code uses it through
/// `codec_path` in `build.rs`.
#[derive(Debug, Clone, Copy)]
pub struct ProtoCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = FieldDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        FieldDecoder(PhantomData)
    }
}

/// Decodes `U`, mapping a failure to INVALID_ARGUMENT with a `BadRequest` field violation.
#[derive(Debug)]
pub struct FieldDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for FieldDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| decode_error(&e))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// INVALID_ARGUMENT for `error`, its field path (`records.message`) taken from prost's
/// location stack, which Display prints innermost first as `Message.field: `.
fn decode_error(error: &prost::DecodeError) -> Status {
    let text = error.to_string();
    let rest = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let mut fields = Vec::new();
    let mut description = rest;
    while let Some((head, tail)) = description.split_once(": ") {
        match head.split_once('.') {
            Some((message, field))
                if !message.is_empty()
                    && !field.is_empty()
                    && !head.contains(' ')
                    && message
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                fields.push(field);
                description = tail;
            }
            _ => break,
        }
    }
    fields.reverse();
    let field = if fields.is_empty() {
        "request".to_owned()
    } else {
        fields.join(".")
    };
    let message = format!("{field}: {description}");
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        message,
        ErrorDetails::with_bad_request_violation(field, description.to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::encoding::{WireType, encode_key, encode_varint};

    #[derive(Clone, PartialEq, prost::Message)]
    struct Inner {
        #[prost(string, tag = "1")]
        text: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    struct Outer {
        #[prost(message, repeated, tag = "1")]
        items: Vec<Inner>,
    }

    #[test]
    fn invalid_utf8_names_the_nested_field() {
        // Outer.items[0].text = [0xff, 0xfe]: not UTF-8.
        let mut inner = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut inner);
        encode_varint(2, &mut inner);
        inner.extend_from_slice(&[0xff, 0xfe]);
        let mut outer = Vec::new();
        encode_key(1, WireType::LengthDelimited, &mut outer);
        encode_varint(inner.len() as u64, &mut outer);
        outer.extend_from_slice(&inner);

        let error = Outer::decode(outer.as_slice()).unwrap_err();
        let status = decode_error(&error);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let bad = status.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations[0].field, "items.text");
        assert!(status.message().contains("UTF-8"), "{}", status.message());
    }

    #[test]
    fn truncated_input_is_invalid_argument_on_the_request() {
        let error = Outer::decode(&[0x0a, 0x05, 0x01][..]).unwrap_err();
        let status = decode_error(&error);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(!status.message().is_empty());
    }
}
