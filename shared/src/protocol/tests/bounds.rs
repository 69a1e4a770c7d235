//! The bounds on a frame (`limits`): depth, entries and items.

use super::*;

#[test]
fn nesting_is_bounded() {
    // Arrays nested so that the innermost item sits at exactly MAX_DEPTH: accepted.
    let nested = |levels: usize| {
        let mut value = uint(1);
        for _ in 0..levels {
            value = [head(4, 1), value].concat();
        }
        map16(&[
            kv("type", t("leave")),
            kv("senderId", t("c")),
            kv("x", value),
        ])
    };
    assert!(decode(&nested(MAX_DEPTH - 2)).is_ok());
    assert_eq!(decode(&nested(MAX_DEPTH - 1)), Err(DecodeError::TooDeep));
    // Very deep input fails fast, without exhausting the stack.
    assert_eq!(decode(&nested(100_000)), Err(DecodeError::TooDeep));
    let mut tags = vec![0xa1, 0x01];
    tags.extend(std::iter::repeat_n(0xc6, 100_000));
    tags.push(0x00);
    assert_eq!(decode(&tags), Err(DecodeError::TooDeep));
    let mut maps = [0xa1, 0x01].repeat(100_000);
    maps.push(0x00);
    assert_eq!(decode(&maps), Err(DecodeError::TooDeep));
    let indefinite = [0x9f].repeat(100_000);
    assert_eq!(
        decode(&[vec![0xa1, 0x01], indefinite].concat()),
        Err(DecodeError::TooDeep)
    );
}

#[test]
fn size_is_bounded() {
    let entries: Vec<_> = (0..MAX_TOP_LEVEL_ENTRIES)
        .map(|i| {
            if i == 0 {
                kv("type", t("x"))
            } else {
                kv(&format!("k{i}"), uint(1))
            }
        })
        .collect();
    assert!(decode(&map16(&entries)).is_ok());
    let mut too_many = entries.clone();
    too_many.push(kv("one-more", uint(1)));
    assert_eq!(decode(&map16(&too_many)), Err(DecodeError::TooManyEntries));
    // Indefinite-length: counted as they come.
    let mut frame = vec![0xbf];
    for (key, value) in &too_many {
        frame.extend_from_slice(key);
        frame.extend_from_slice(value);
    }
    frame.push(0xff);
    assert_eq!(decode(&frame), Err(DecodeError::TooManyEntries));
    // A huge declared length is refused before anything else is read.
    assert_eq!(decode(&head(5, u64::MAX)), Err(DecodeError::TooManyEntries));
    // Nested containers may be long, but not past the item budget.
    let long = |n: u64| {
        let mut array = head(4, n);
        array.extend(std::iter::repeat_n(0x01, n as usize));
        map16(&[kv("type", t("x")), kv("list", array)])
    };
    assert!(decode(&long(MAX_ITEMS as u64 - 10)).is_ok());
    assert_eq!(
        decode(&long(MAX_ITEMS as u64)),
        Err(DecodeError::TooManyItems)
    );
    // Declared lengths far beyond the frame fail at its end, allocating nothing big.
    for bogus in [
        head(4, u64::MAX),
        head(5, u64::MAX),
        head(2, u64::MAX),
        head(3, u64::MAX),
        head(2, 1 << 40),
    ] {
        let frame = map16(&[kv("type", t("x")), kv("v", bogus)]);
        assert!(
            matches!(decode(&frame), Err(DecodeError::InvalidCbor(_))),
            "{frame:02x?}"
        );
    }
}
