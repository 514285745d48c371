//! `generate --parts N`: the generated book laid out as a book too large for one machine is laid out,
//! in Parquet parts partitioned by VIN hash: `parts/loans/part-00000.parquet` … and
//! `parts/valuations/part-00000.parquet` …, part *i* of both holding every row whose VIN (trimmed of
//! spaces and tabs, upper case: as underwater matches VINs) hashes to *i*. A part pair is a book of its
//! own: `underwater.spark.run_parts` runs one per task without a shuffle, and the CLI runs any one
//! of them (`run --loans parts/loans/part-00003.parquet --valuations parts/valuations/part-00003.parquet`).
//! The cells are the CSV's text, unchanged (text columns): the parts give the CSV's figures.

use crate::input::reader::ChunkReader;
use anyhow::{Context, Result};
use polars::prelude::*;
use std::path::Path;

/// Rows all parts buffer at most before they write them as row groups: about 0.7 GB of cells for a
/// loan file, whatever the part count.
const ROWS_BUFFERED: usize = 1 << 20;

/// The part of a VIN: FNV-1a over its matching form (trimmed, upper case), modulo `parts`. A data
/// engineer can lay a book out the same way with any hash, as long as loans and valuations use the
/// same one.
pub fn part_of(vin: &[u8], parts: u32) -> u32 {
    let trimmed = vin.trim_ascii_start().trim_ascii_end();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in trimmed {
        hash = (hash ^ u64::from(b.to_ascii_uppercase())).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(parts.max(1))) as u32
}

/// One part's Parquet file being written: its buffered rows by column, and its writer.
struct Part {
    columns: Vec<Vec<String>>,
    writer: polars::io::parquet::write::BatchedWriter<std::fs::File>,
}

impl Part {
    fn flush(&mut self, names: &[String]) -> Result<()> {
        let height = self.columns.first().map_or(0, Vec::len);
        if height == 0 {
            return Ok(());
        }
        let columns = names
            .iter()
            .zip(&mut self.columns)
            .map(|(name, values)| Column::new(name.into(), std::mem::take(values)))
            .collect();
        self.writer.write_batch(&DataFrame::new(height, columns)?)?;
        Ok(())
    }
}

/// Splits `file` (a CSV of the generated book) into `parts` Parquet parts in `dir`, by its `vin`
/// column.
pub fn split(file: &Path, dir: &Path, parts: u32) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (reader, header) =
        ChunkReader::open(file, crate::input::reader::CHUNK_BYTES, Box::new(|_| {}))?;
    let vin = header
        .find("vin")
        .context("the generated file has a vin column")?;
    let schema: Schema = header
        .names
        .iter()
        .map(|n| Field::new(n.into(), DataType::String))
        .collect();
    let rows_per_group = (ROWS_BUFFERED / parts as usize).max(4096);
    let mut out = Vec::with_capacity(parts as usize);
    for i in 0..parts {
        let path = dir.join(format!("part-{i:05}.parquet"));
        let f = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let writer = ParquetWriter::new(f)
            .with_compression(ParquetCompression::Lz4Raw)
            .batched(&schema)?;
        out.push(Part {
            columns: vec![Vec::new(); header.names.len()],
            writer,
        });
    }
    for chunk in reader {
        let mut full = Vec::new();
        chunk?.for_each_row(|row| {
            let i = part_of(row.get(vin).unwrap_or_default(), parts) as usize;
            let part = &mut out[i];
            for (c, values) in part.columns.iter_mut().enumerate() {
                values.push(String::from_utf8_lossy(row.get(c).unwrap_or_default()).into_owned());
            }
            if part.columns[0].len() == rows_per_group {
                full.push(i);
            }
        });
        for i in full {
            out[i].flush(&header.names)?;
        }
    }
    for mut part in out {
        part.flush(&header.names)?;
        part.writer.finish()?;
    }
    Ok(())
}
