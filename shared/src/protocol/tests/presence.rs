//! Relayed presence names the account that sent it, and only the server says `gone`.

use ciborium::Value;

use super::*;

fn cbor(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).unwrap();
    bytes
}

fn text(value: &str) -> Value {
    Value::Text(value.into())
}

#[test]
fn relayed_presence_names_the_account_not_what_the_client_said() {
    let sent = cbor(&Value::Map(vec![
        (text("name"), text("Dr. Rivera (clinic)")),
        (text("field"), text("goals")),
        (text("userId"), text("someone-else")),
        (text("at"), Value::Float(1.5)),
    ]));
    let relayed = presence_with_account(&sent, "acct-1");
    let value: Value = ciborium::from_reader(relayed.as_slice()).unwrap();
    assert_eq!(
        value,
        Value::Map(vec![
            (text("userId"), text("acct-1")),
            (text("field"), text("goals")),
            (text("at"), Value::Float(1.5)),
        ])
    );
    // cbor-x's `undefined` and an indefinite-length map come through as they were.
    let mut indefinite = vec![0xbf];
    indefinite.extend(cbor(&text("field")));
    indefinite.push(0xf7);
    indefinite.push(0xff);
    let relayed = presence_with_account(&indefinite, "a");
    assert_eq!(relayed[0], 0xa2);
    assert!(relayed.ends_with(&[0x65, b'f', b'i', b'e', b'l', b'd', 0xf7]));
}

#[test]
fn gone_is_the_servers_to_say() {
    let gone: Value = ciborium::from_reader(presence_gone("acct-1").as_slice()).unwrap();
    assert_eq!(
        gone,
        Value::Map(vec![
            (text("userId"), text("acct-1")),
            (text("gone"), Value::Bool(true)),
        ])
    );
    let sent = cbor(&Value::Map(vec![
        (text("gone"), Value::Bool(true)),
        (text("field"), text("goals")),
    ]));
    let relayed: Value =
        ciborium::from_reader(presence_with_account(&sent, "acct-1").as_slice()).unwrap();
    assert_eq!(
        relayed,
        Value::Map(vec![
            (text("userId"), text("acct-1")),
            (text("field"), text("goals")),
        ])
    );
}

#[test]
fn presence_that_is_not_a_map_is_wrapped_whole() {
    let relayed = presence_with_account(&cbor(&text("typing")), "acct-1");
    let value: Value = ciborium::from_reader(relayed.as_slice()).unwrap();
    assert_eq!(
        value,
        Value::Map(vec![
            (text("userId"), text("acct-1")),
            (text("message"), text("typing")),
        ])
    );
    // Not one well-formed CBOR item: relayed as bytes, so receivers can still read it.
    let mut trailing = cbor(&text("x"));
    trailing.push(0);
    let mut deep = vec![0x81; MAX_DEPTH + 2];
    deep.push(0);
    for bad in [Vec::new(), vec![0xa1, 0x61], trailing, deep] {
        let relayed = presence_with_account(&bad, "a");
        let value: Value = ciborium::from_reader(relayed.as_slice()).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                (text("userId"), text("a")),
                (text("message"), Value::Bytes(bad)),
            ])
        );
    }
}
