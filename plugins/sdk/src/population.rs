//! Encoding a detector's population share ([`Detector::population`]) and
//! reading the others' ([`Detector::absorb`]).
//!
//! A share is whatever serde type the detector chooses, in postcard, the
//! same encoding as snapshots. The [`Runtime`](crate::Runtime) puts a header
//! naming the detector around it, so a share of another detector is
//! refused before the detector sees it.
//!
//! ```
//! use ueba_sdk::population::{decode, encode};
//! let share: Vec<(u32, u32)> = vec![(7, 3)];
//! assert_eq!(decode::<Vec<(u32, u32)>>(&encode(&share)).unwrap(), share);
//! assert!(decode::<Vec<(u32, u32)>>(&[0xff]).is_err());
//! // Nothing may follow a share.
//! let mut longer = encode(&share);
//! longer.push(0);
//! assert!(decode::<Vec<(u32, u32)>>(&longer).is_err());
//! let others = [encode(&3u64), encode(&4u64)];
//! let others: Vec<&[u8]> = others.iter().map(Vec::as_slice).collect();
//! assert_eq!(ueba_sdk::population::decode_all::<u64>(&others).unwrap(), [3, 4]);
//! ```
//!
//! [`Detector::population`]: crate::Detector::population
//! [`Detector::absorb`]: crate::Detector::absorb

use serde::Serialize;
use serde::de::DeserializeOwned;

/// `share` as bytes for [`Detector::population`](crate::Detector::population).
pub fn encode<T: Serialize>(share: &T) -> Vec<u8> {
    // Serialising plain data into a Vec cannot fail; a serde impl that
    // errors is a bug in the detector, and an empty share is "nothing".
    postcard::to_allocvec(share).unwrap_or_default()
}

/// One of the `others` given to [`Detector::absorb`](crate::Detector::absorb)
/// read back, or why it could not be. Every byte must belong to it: a
/// share cut short where an earlier layout would have ended, or one with
/// bytes after it, is not taken for that layout's.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, rest) = postcard::take_from_bytes(bytes)
        .map_err(|e| format!("population share does not decode: {e}"))?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(format!(
            "population share does not decode: {} bytes after its end",
            rest.len()
        ))
    }
}

/// A share in this version's layout `T`, or else in an earlier one `E`,
/// converted: a checkpoint taken before an upgrade holds the last shares
/// of the version before, and the host hands them over again on resume.
/// The error is the one for `T`.
pub fn decode_or<T: DeserializeOwned, E: DeserializeOwned + Into<T>>(
    bytes: &[u8],
) -> Result<T, String> {
    decode::<T>(bytes).or_else(|e| decode::<E>(bytes).map(Into::into).map_err(|_| e))
}

/// Every one of the `others` given to
/// [`Detector::absorb`](crate::Detector::absorb) read back, or the first
/// reason one could not be: decode them all before changing any state, so
/// that a bad share leaves the detector as it was.
pub fn decode_all<T: DeserializeOwned>(others: &[&[u8]]) -> Result<Vec<T>, String> {
    others.iter().map(|bytes| decode(bytes)).collect()
}
