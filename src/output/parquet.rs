//! accounts.parquet: the per-account file with typed columns, money as exact decimals (`Decimal(18, 2)` in
//! the file when the book's amounts fit it, `Decimal(38, 2)` otherwise), written from the accounts
//! frame ([`super::frame`]) a row group at a time.

use crate::book::Book;
use crate::output::frame::{row_groups, Frames, Settled};
use polars::prelude::*;
use std::fs::File;

/// Builds the accounts frame and writes it as Parquet to `file`, a row group at a time, so memory holds
/// a few row groups' columns rather than the book's. LZ4 rather than zstd: it writes markedly faster
/// for a somewhat larger file (docs/perf-log.md), and a nightly run is judged on time.
pub fn write_accounts(book: &Book, file: File) -> PolarsResult<super::staging::Written> {
    let settled = Settled::of(book, true)?;
    let frames = Frames::all(book, &settled);
    let mut groups = row_groups(book.loaded.loans.len()).into_iter();
    // There is always a first group (an empty book's is empty): the writer takes its schema.
    let first = frames.frame(groups.next().unwrap_or(0..0))?;
    // polars writes each page header and footer field as a write of its own: buffer them, and write
    // the file straight to the disk as it grows, so the fsync that publishes it has little left.
    let mut direct = super::staging::DirectFile::new(file);
    let mut writer = ParquetWriter::new(&mut direct)
        .with_compression(ParquetCompression::Lz4Raw)
        .batched(first.schema())?;
    // polars compresses and writes a row group on the calling thread: one thread does that while the
    // pool builds the next row group.
    let (send, received) = std::sync::mpsc::sync_channel::<DataFrame>(1);
    let (built, wrote) = std::thread::scope(|scope| {
        let written = scope.spawn(move || -> PolarsResult<()> {
            for group in received {
                writer.write_batch(&group)?;
            }
            writer.finish()?;
            Ok(())
        });
        let mut built = Ok(());
        if send.send(first).is_ok() {
            for group in groups {
                match frames.frame(group) {
                    // A failed send means the writer stopped on an error, which `join` returns.
                    Ok(frame) => {
                        if send.send(frame).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        built = Err(e);
                        break;
                    }
                }
            }
        }
        drop(send);
        let wrote = written.join().unwrap_or_else(|_| {
            Err(polars_err!(ComputeError: "the accounts.parquet writer panicked"))
        });
        (built, wrote)
    });
    built.and(wrote)?;
    Ok(direct.into_file()?)
}
