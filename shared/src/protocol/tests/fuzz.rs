//! Random and mutated frames: decoding never panics, and what decodes round-trips.

use super::*;

/// xorshift64*: a small deterministic generator, enough to shake the decoder.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Decoding anything must return, never panic; what decodes must survive a round trip.
fn shake(frame: &[u8]) {
    if let Ok(message) = decode(frame)
        && !has_nan(&message)
    {
        assert_eq!(decode(&encode(&message)), Ok(message));
    }
}

/// Whether the message holds a NaN, which no round trip can compare equal.
fn has_nan(message: &Message) -> bool {
    matches!(message, Message::RemoteHeadsChanged { new_heads, .. }
        if new_heads.values().any(|remote| remote.timestamp.is_nan()))
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..10_000 {
        let len = rng.below(96) as usize;
        let mut frame: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Start most frames with a map header so the decoder gets past the first byte.
        if let Some(first) = frame.first_mut()
            && rng.below(4) != 0
        {
            *first = 0xa0 | (*first & 0x1f);
        }
        shake(&frame);
    }
}

#[test]
fn mutated_messages_never_panic() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let seeds: Vec<Vec<u8>> = every_variant().iter().map(encode).collect();
    let mut decoded = 0;
    for _ in 0..10_000 {
        let mut frame = seeds[rng.below(seeds.len() as u64) as usize].clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(frame.len() as u64) as usize;
            match rng.below(4) {
                0 => frame[at] = rng.next() as u8,
                1 => frame[at] ^= 1 << rng.below(8),
                2 => frame.truncate(at),
                _ => frame.insert(at, rng.next() as u8),
            }
            if frame.is_empty() {
                break;
            }
        }
        decoded += usize::from(decode(&frame).is_ok());
        shake(&frame);
    }
    // The mutations leave some frames valid, so the round-trip check did run.
    assert!(decoded > 100, "only {decoded} mutated frames decoded");
}
