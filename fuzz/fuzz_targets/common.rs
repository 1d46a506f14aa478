//! What every target shares: prost decoding with the round-trip property.

use prost::Message;

/// Decodes `bytes` as `M`; a message that decodes re-encodes to bytes that decode to itself.
pub fn decode<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<M> {
    let message = M::decode(bytes).ok()?;
    let again =
        M::decode(message.encode_to_vec().as_slice()).expect("a re-encoded message decodes");
    assert_eq!(
        again, message,
        "decode -> encode -> decode changed the message"
    );
    Some(message)
}

/// Splits off the first byte, which picks what the rest is fed to.
#[allow(dead_code)] // not every target picks
pub fn pick(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(first, rest)| (*first, rest))
}
