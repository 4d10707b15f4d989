//! `ferromq decode`: reads a byte stream of remoting frames (raw bytes from a file or stdin, or
//! hex with `--hex`) and prints each command's header, with the body's length and a preview.

use std::io::Read;

use anyhow::{bail, Context};
use bytes::BytesMut;
use ferromq_protocol::frame::{decode_frame, effective_serialize_type};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode, MAX_FRAME_BYTES};

#[derive(clap::Args)]
pub struct DecodeArgs {
    /// File holding the frames; `-` or absent reads standard input.
    path: Option<String>,
    /// The input is hexadecimal text (whitespace ignored) instead of raw bytes.
    #[arg(long)]
    hex: bool,
}

pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let mut input = Vec::new();
    match args.path.as_deref() {
        None | Some("-") => {
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
        }
        Some(path) => input = std::fs::read(path).with_context(|| format!("reading {path}"))?,
    }
    if args.hex {
        input = parse_hex(&input)?;
    }
    let mut buf = BytesMut::from(&input[..]);
    let mut count = 0usize;
    loop {
        let offset = input.len() - buf.len();
        match decode_frame(&mut buf, MAX_FRAME_BYTES) {
            Ok(Some(cmd)) => {
                count += 1;
                println!("{}", describe(offset, &cmd));
            }
            Ok(None) if buf.is_empty() => break,
            Ok(None) => bail!(
                "{} trailing bytes at offset {offset} are an incomplete frame",
                buf.len()
            ),
            Err(e) => bail!("malformed frame at offset {offset}: {e}"),
        }
    }
    eprintln!("{count} frame(s)");
    Ok(())
}

fn describe(offset: usize, cmd: &RemotingCommand) -> String {
    let code = if cmd.is_response() {
        ResponseCode::from_i32(cmd.code).to_string()
    } else {
        RequestCode::from_i32(cmd.code).to_string()
    };
    let kind = match (cmd.is_response(), cmd.is_oneway()) {
        (true, _) => "response",
        (false, true) => "oneway",
        (false, false) => "request",
    };
    let body = cmd.body.to_bytes();
    let preview: String = String::from_utf8_lossy(&body[..body.len().min(64)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!(
        "@{offset} {kind} {code} opaque={} {:?} lang={} v={} remark={:?} ext={:?} body={}B {preview:?}",
        cmd.opaque,
        effective_serialize_type(cmd),
        cmd.language.name(),
        cmd.version,
        cmd.remark,
        cmd.ext_fields,
        body.len(),
    )
}

fn parse_hex(text: &[u8]) -> anyhow::Result<Vec<u8>> {
    let digits: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        bail!("hex input has an odd number of digits");
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).context("hex input is not ASCII")?;
            u8::from_str_radix(s, 16).with_context(|| format!("{s:?} is not a hex byte"))
        })
        .collect()
}
