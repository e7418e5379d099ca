use super::*;

#[test]
fn targets() {
    let t = target("http://127.0.0.1:3000", "/socket.io/").expect("target");
    assert_eq!(t.addr.to_string(), "127.0.0.1:3000");
    assert_eq!(
        t.ws_url,
        "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
    );
    let t = target("ws://127.0.0.1:9/x", "custom").expect("target");
    assert_eq!(
        t.ws_url,
        "ws://127.0.0.1:9/custom?EIO=4&transport=websocket"
    );
    assert!(target("https://127.0.0.1:3000", "/socket.io/").is_err());
}
