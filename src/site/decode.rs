//! Hospital files in the encodings their standards prescribe (SS-MIX2: ISO-2022-JP; claims and the
//! official masters: Shift_JIS), decoded strictly: a byte sequence the encoding has not is never
//! replaced, it is found, by its offset, for the error to name where it is.

use encoding_rs::{DecoderResult, Encoding};

/// `bytes` decoded from `encoding`, or the offset of the first byte that cannot be.
pub fn strictly(encoding: &'static Encoding, bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder.max_utf8_buffer_length_without_replacement(bytes.len()).unwrap_or(bytes.len() * 3 + 16);
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        DecoderResult::InputEmpty => Ok(text),
        DecoderResult::Malformed(bad, after) => Err(read - usize::from(after) - usize::from(bad)),
        DecoderResult::OutputFull => unreachable!("the buffer holds the longest decoding"),
    }
}

/// The line (1-based) of byte `offset` of `bytes`.
pub fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())].iter().filter(|b| **b == b'\n').count() + 1
}
