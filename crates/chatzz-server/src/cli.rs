use std::net::SocketAddr;

use clap::Parser;

/// One-to-one realtime chat over Socket.IO.
#[derive(Debug, Parser)]
#[command(name = "chatzz", version, about)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "CHATZZ_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Where to store chats: `sqlite://PATH` (the default, a file beside you) or
    /// `memory:` (gone on exit).
    #[arg(
        long,
        env = "CHATZZ_DATABASE_URL",
        default_value = "sqlite://chatzz.db"
    )]
    pub database: String,

    /// Prefix of chatzz's own table or collection names.
    #[arg(long, env = "CHATZZ_TABLE_PREFIX", default_value = "chatzz_")]
    pub table_prefix: String,

    /// Longest message text, in Unicode code points.
    #[arg(long, env = "CHATZZ_MAX_MESSAGE_CHARS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_message_chars: u32,
}
