use super::*;

fn collect(input: &'static [u8]) -> Vec<Parsed> {
    let (rx, bytes) = spawn_reader(Box::new(std::io::Cursor::new(input)));
    let mut out = Vec::new();
    for c in rx {
        match c {
            Chunk::Lines(l, _) => out.extend(l),
            Chunk::Failed(e) => panic!("{e}"),
        }
    }
    assert_eq!(bytes.load(Ordering::Relaxed), input.len() as u64);
    out
}

#[test]
fn numbers_lines_and_skips_blank_ones() {
    let out = collect(
        b"{\"timestamp\":1,\"user\":\"a\",\"action\":\"s\",\"resource\":\"t\"}\r\n\n   \nnope\n\xff\xfe\n{\"timestamp\":2,\"user\":\"a\",\"action\":\"s\",\"resource\":\"t\"}",
    );
    assert_eq!(out.len(), 4);
    assert!(out[0].is_ok());
    assert_eq!(out[1].as_ref().unwrap_err().line, 4);
    let utf = out[2].as_ref().unwrap_err();
    assert_eq!(utf.line, 5);
    assert!(utf.message.contains("UTF-8"));
    assert_eq!(out[3].as_ref().unwrap().time_ms, 2);
}

#[test]
fn a_byte_order_mark_before_the_first_line_is_not_part_of_it() {
    let out = collect(
        b"\xef\xbb\xbf{\"timestamp\":1,\"user\":\"a\",\"action\":\"s\",\"resource\":\"t\"}\n\xef\xbb\xbf{\"timestamp\":2}\n",
    );
    assert_eq!(out[0].as_ref().unwrap().time_ms, 1);
    // Only the start of the input may carry one.
    assert_eq!(out[1].as_ref().unwrap_err().line, 2);
}

#[test]
fn overlong_lines_are_bounded_and_reported() {
    let mut input = vec![b'x'; 3000];
    input.push(b'\n');
    input.extend_from_slice(b"short\n");
    let mut r = std::io::BufReader::with_capacity(64, std::io::Cursor::new(input));
    let mut buf = Vec::new();
    assert_eq!(
        read_line_limited(&mut r, &mut buf, 100).unwrap(),
        LineRead::TooLong(3001)
    );
    assert!(buf.len() <= 100);
    buf.clear();
    assert_eq!(
        read_line_limited(&mut r, &mut buf, 100).unwrap(),
        LineRead::Line(6)
    );
    assert_eq!(buf, b"short\n");
    buf.clear();
    assert_eq!(
        read_line_limited(&mut r, &mut buf, 100).unwrap(),
        LineRead::Eof
    );
}

/// A parser with a bug: it panics on its second line.
struct Buggy;

impl LineParser for Buggy {
    fn feed(
        &mut self,
        text: &str,
        line: u64,
        out: &mut Vec<Parsed>,
    ) -> Result<(), crate::sources::FormatError> {
        assert!(line < 2, "a parser bug on {text}");
        NativeParser.feed(text, line, out)
    }
}

#[test]
fn a_panicking_parser_ends_the_input_as_a_failure_not_as_its_end() {
    let input =
        b"{\"timestamp\":1,\"user\":\"a\",\"action\":\"s\",\"resource\":\"t\"}\nboom\nnever read\n";
    let feed = feed_at(
        Box::new(std::io::Cursor::new(&input[..])),
        Box::new(Buggy),
        Position::default(),
    );
    let chunks: Vec<Chunk> = feed.chunks.iter().collect();
    let Some(Chunk::Failed(e)) = chunks.last() else {
        panic!("the input ended without a failure");
    };
    assert!(e.to_string().contains("a parser bug on boom"), "{e}");
    assert!(e.to_string().contains("bug in ueba"), "{e}");
}
