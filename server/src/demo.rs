//! The built-in demonstration: generated embeddings in a temporary database, added, queried,
//! reopened, with timings.

use std::time::Instant;

use mnemodb::{
    AddBatch, Database, Include, Isa, Metadata, MetadataValue, QueryRequest, Space, Vectors,
};

/// Records in the default run: big enough to show real timings, small enough for seconds.
pub const DEFAULT_RECORDS: usize = 20_000;
const DIM: usize = 384;
const BATCH: usize = 5_000;
const QUERIES: usize = 100;

/// A small seeded generator (xorshift64*): the demo needs repeatable data, not quality.
struct Rng(u64);

impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        bits as f32 / (1u64 << 24) as f32 - 0.5
    }

    /// A unit vector (cosine data, as sentence embeddings are).
    fn unit_vector(&mut self, out: &mut Vec<f32>) {
        let start = out.len();
        out.extend((0..DIM).map(|_| self.next_f32()));
        let norm = out[start..]
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        out[start..].iter_mut().for_each(|x| *x /= norm);
    }
}

fn request(q: &[f32]) -> QueryRequest<'_> {
    QueryRequest {
        embeddings: q,
        dim: DIM,
        n_results: 5,
        ids: None,
        include: Include::query_default(),
    }
}

#[allow(clippy::print_stdout)] // the demo's whole point is to print
pub fn run(records: usize) -> mnemodb::Result<()> {
    let tmp = tempfile::Builder::new()
        // MNEMODB_DEMO_KEEP=1 leaves the database behind for inspection.
        .disable_cleanup(std::env::var_os("MNEMODB_DEMO_KEEP").is_some())
        .tempdir()
        .map_err(|e| mnemodb::Error::Io {
            op: "create",
            path: std::env::temp_dir(),
            source: e,
        })?;
    println!(
        "mnemodb demo: {records} records x {DIM} dims (cosine), SIMD path {:?}",
        Isa::selected()?
    );
    println!("database: {}", tmp.path().display());

    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let db = Database::open(tmp.path())?;
    let notes = db.create_collection("notes", Space::Cosine, None)?;

    let t = Instant::now();
    for start in (0..records).step_by(BATCH) {
        let end = (start + BATCH).min(records);
        let ids: Vec<String> = (start..end).map(|i| format!("note-{i}")).collect();
        let mut embeddings = Vec::with_capacity((end - start) * DIM);
        (start..end).for_each(|_| rng.unit_vector(&mut embeddings));
        let documents: Vec<Option<String>> = (start..end)
            .map(|i| Some(format!("note number {i} about topic {}", i % 10)))
            .collect();
        let metadatas: Vec<Option<Metadata>> = (start..end)
            .map(|i| {
                Some(Metadata::from([
                    (
                        "source".to_string(),
                        MetadataValue::Str(format!("s{}", i % 10)),
                    ),
                    ("n".to_string(), MetadataValue::Int(i as i64)),
                ]))
            })
            .collect();
        notes.add(AddBatch {
            ids: &ids,
            embeddings: Vectors::new(&embeddings, DIM),
            documents: Some(&documents),
            metadatas: Some(&metadatas),
            uris: None,
        })?;
    }
    let add_s = t.elapsed().as_secs_f64();
    println!(
        "add:    {records} records in {:.3} s ({:.0} records/s, durable on return)",
        add_s,
        records as f64 / add_s
    );

    let mut queries = Vec::with_capacity(QUERIES * DIM);
    (0..QUERIES).for_each(|_| rng.unit_vector(&mut queries));

    let first = notes.query(request(&queries[..DIM]))?;
    println!("query:  5 nearest to a random unit vector:");
    let hits = &first[0];
    for (i, id) in hits.ids.iter().enumerate() {
        let distance = hits.distances.as_ref().map_or(f32::NAN, |d| d[i]);
        let doc = hits
            .documents
            .as_ref()
            .and_then(|d| d[i].clone())
            .unwrap_or_default();
        println!("          {id:<12} distance {distance:.4}  {doc:?}");
    }

    let mut latencies: Vec<f64> = queries
        .chunks_exact(DIM)
        .map(|q| {
            let t = Instant::now();
            notes
                .query(request(q))
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<mnemodb::Result<_>>()?;
    latencies.sort_by(f64::total_cmp);
    println!(
        "query:  exact single-query latency over {QUERIES} queries: p50 {:.3} ms, p95 {:.3} ms",
        latencies[QUERIES / 2],
        latencies[QUERIES * 95 / 100]
    );

    let t = Instant::now();
    let batch = notes.query(request(&queries))?;
    let batch_s = t.elapsed().as_secs_f64();
    println!(
        "query:  batch of {} queries in {:.3} ms ({:.0} queries/s)",
        batch.len(),
        batch_s * 1e3,
        batch.len() as f64 / batch_s
    );

    drop(notes);
    drop(db);
    let t = Instant::now();
    let db = Database::open(tmp.path())?;
    let notes = db.get_collection("notes")?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let again = notes.query(request(&queries[..DIM]))?;
    println!(
        "reopen: open {:.3} ms, open + first query {:.3} ms; same answer: {}",
        open_ms,
        t.elapsed().as_secs_f64() * 1e3,
        again[0].ids == first[0].ids
    );
    let report = db.check()?;
    println!(
        "check:  {} collection(s), {} records, {}",
        report.collections,
        report.records,
        if report.is_ok() {
            "consistent".to_string()
        } else {
            format!("PROBLEMS: {:?}", report.problems)
        }
    );
    Ok(())
}
