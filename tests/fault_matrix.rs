//! The fault matrix (issue 6): every fault × {discovery, first page, later page} ×
//! {transient, persistent}, injected by `common::faultproxy` between kparity and the real blue
//! apiserver; and every fault on a watch-list stream (issue 15).
//!
//! - Transient: the run completes with the right verdict, both against an identical side (blue
//!   itself: equivalent) and a drifted one (green, where one ConfigMap differs: different, with
//!   exactly that object), and reads exactly as many objects as a run without faults.
//! - Persistent: never `equivalent`; exit 2. A fault on a type's list makes that type, and only
//!   it, incomplete with the fault's specific reason while every other type is still compared;
//!   a fault on discovery stops the run with one clear error. Every case is bounded in time.
//! - On a stream (the first request of a type read with `--list-method streams`): a stream is an
//!   attempt, so even a persistent fault on it costs time only; the type is paged instead and the
//!   run gives the same verdict and counts as a run without faults. The page cases read with
//!   `--list-method pages`.
//! - `--list-method auto` pages a type its first page counts as small and streams a large one,
//!   and gives the report the other two methods give.
//! - The faults that cut a body (`reset`, `truncate`) again on bodies relayed gzip-encoded in
//!   members, as kparity asks for them and the API server sends a watch: a cut inside or
//!   between members is retried, and a persistent one fails closed with the same reasons.

mod common;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::faultproxy::{FaultProxy, parse_script, scratch};
use common::*;

const NS: &str = "faults-matrix";
/// The per-type deadline the matrix runs with (`--timeout`): short, so persistent faults end fast.
const TIMEOUT: &str = "6s";
/// A whole run under a persistent fault must end within this (deadline, plus discovery, plus
/// the other types): no case may hang.
const RUN_BOUND: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Discovery,
    FirstPage,
    LaterPage,
    Stream,
}

impl Place {
    fn script(self) -> &'static str {
        match self {
            Place::Discovery => "discovery /apis",
            Place::FirstPage => "first-page configmaps",
            Place::LaterPage => "continue configmaps",
            Place::Stream => "watch configmaps",
        }
    }
    /// `--list-method`: the page cases read paged lists (their faults and reasons are those of
    /// pages; a stream has no later pages, and is bounded by its idle time, not a request's);
    /// the stream cases stream every type first.
    fn list_method(self) -> &'static str {
        match self {
            Place::Stream => "streams",
            _ => "pages",
        }
    }
    /// Whether the run must succeed whatever the fault's persistence: a broken stream is paged.
    fn recovers(self, persistent: bool) -> bool {
        !persistent || self == Place::Stream
    }
    fn label(self) -> &'static str {
        match self {
            Place::Discovery => "discovery (/apis)",
            Place::FirstPage => "first page",
            Place::LaterPage => "later page",
            Place::Stream => "watch-list stream",
        }
    }
}

/// A fault, how often it fires when transient, and the reason code a persistent one must give.
struct FaultSpec {
    fault: &'static str,
    transient_times: u32,
    reason: &'static str,
    /// Words the one-line error of a persistent discovery fault must contain.
    discovery_words: &'static [&'static str],
}

const FAULTS: &[FaultSpec] = &[
    FaultSpec { fault: "429", transient_times: 2, reason: "throttled", discovery_words: &["throttled"] },
    FaultSpec { fault: "500", transient_times: 2, reason: "server_error", discovery_words: &["server error 500"] },
    FaultSpec { fault: "503", transient_times: 2, reason: "unavailable", discovery_words: &["unavailable"] },
    FaultSpec { fault: "504", transient_times: 2, reason: "server_error", discovery_words: &["server error 504"] },
    FaultSpec { fault: "reset", transient_times: 2, reason: "transport", discovery_words: &["transport error"] },
    FaultSpec { fault: "stall", transient_times: 1, reason: "timeout", discovery_words: &["timeout"] },
    FaultSpec { fault: "truncate", transient_times: 2, reason: "decode", discovery_words: &["broken JSON"] },
    FaultSpec { fault: "410", transient_times: 1, reason: "gone", discovery_words: &[] },
    FaultSpec { fault: "401", transient_times: 1, reason: "unauthorized", discovery_words: &["authenticate", "401"] },
    FaultSpec { fault: "trickle", transient_times: 1, reason: "timeout", discovery_words: &["timeout"] },
];

/// The faults that cut a body, as they read on a gzip-encoded one: a cut gzip body is "damaged",
/// a reset one a transport error, whatever the JSON inside.
const COMPRESSED_FAULTS: &[FaultSpec] = &[
    FaultSpec { fault: "reset", transient_times: 2, reason: "transport", discovery_words: &["transport error"] },
    FaultSpec { fault: "truncate", transient_times: 2, reason: "decode", discovery_words: &["damaged gzip body"] },
];

struct Case {
    spec: &'static FaultSpec,
    place: Place,
    persistent: bool,
    /// Bodies relayed gzip-encoded (`FaultProxy::start_compressed`).
    compressed: bool,
}

struct Outcome {
    row: String,
    failures: Vec<String>,
}

/// What a run without faults reads: the yardstick of every case.
struct Baseline {
    objects_old: u64,
    configmaps_old: u64,
}

fn kparity_via(kubeconfig: &str, other: &str, list_method: &str) -> Run {
    diff_through(
        kubeconfig,
        other,
        &[
            "-n",
            NS,
            "--timeout",
            TIMEOUT,
            // Small pages, so every type with more than two objects has continue pages.
            "--page-size",
            "2",
            "--list-method",
            list_method,
        ],
    )
}

/// `kparity diff ctx:faulty ctx:OTHER -o json ARGS`, `faulty` being the proxy of `kubeconfig`.
fn diff_through(kubeconfig: &str, other: &str, args: &[&str]) -> Run {
    let mut cmd = kparity();
    cmd.env("KUBECONFIG", kubeconfig).args(["diff", "ctx:faulty", &format!("ctx:{other}"), "-o", "json"]).args(args);
    cmd.timeout(Duration::from_secs(120));
    run_cmd(&mut cmd)
}

fn kind_count(report: &serde_json::Value, kind: &str, side: &str) -> u64 {
    report["kinds"]
        .as_array()
        .and_then(|ks| ks.iter().find(|k| k["kind"] == kind && k["group"] == ""))
        .and_then(|k| k[side].as_u64())
        .unwrap_or(0)
}

fn run_case(case: &Case, base: &Baseline) -> Outcome {
    let times = if case.persistent { "always".to_string() } else { format!("x{}", case.spec.transient_times) };
    let fault = match case.spec.fault {
        // Longer than the 2 s per-request bound (a third of the 6 s deadline), shorter than a run.
        "trickle" => "trickle=4s",
        f => f,
    };
    let script = format!("{} {fault} {times}", case.place.script());
    let mut failures = Vec::new();
    let mut fail = |m: String| failures.push(format!("[{script}] {m}"));
    let recovers = case.place.recovers(case.persistent);
    let runs: &[(&str, i32)] = if recovers { &[("blue", 0), ("green", 1)] } else { &[("blue", 2)] };
    let mut verdicts = Vec::new();
    let mut slowest = Duration::ZERO;
    for &(other, want_code) in runs {
        let proxy = if case.compressed {
            FaultProxy::start_compressed("blue", &script)
        } else {
            FaultProxy::start("blue", &script)
        };
        let (_dir, dir) = scratch();
        let kc = proxy.kubeconfig(&dir, "faulty");
        let run = kparity_via(&kc, other, case.place.list_method());
        slowest = slowest.max(run.elapsed);
        let hits = proxy.hits()[0];
        let ctx = || {
            format!(
                "vs {other}: exit {}, {:.1}s, fault fired {hits}x\nstderr: {}\nrequests: {:?}",
                run.code,
                run.elapsed.as_secs_f32(),
                run.stderr.trim(),
                proxy
                    .requests()
                    .iter()
                    .filter(|r| r.contains("configmaps") || !r.contains("namespaces"))
                    .collect::<Vec<_>>()
            )
        };
        // A case whose fault never fired proves nothing. A stream is tried once per type, so a
        // stream fault fires once per run.
        let fired_as_scripted = match (case.place, case.persistent) {
            (Place::Stream, _) => hits == 1,
            (_, true) => hits > 0,
            (_, false) => hits == case.spec.transient_times,
        };
        if !fired_as_scripted {
            fail(format!("the fault fired {hits} times; {}", ctx()));
        }
        // A compressed case proves something only if every fault cut a gzip body: kparity asked
        // for gzip and the proxy sent it.
        if case.compressed && proxy.faulted_compressed() != hits {
            fail(format!("{} of the {hits} faulted bodies were gzip-encoded; {}", proxy.faulted_compressed(), ctx()));
        }
        if run.code != want_code {
            fail(format!("expected exit {want_code}; {}", ctx()));
        }
        if run.elapsed > RUN_BOUND {
            fail(format!("took longer than {RUN_BOUND:?}; {}", ctx()));
        }
        if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
            fail(format!("panicked; {}", ctx()));
        }
        let report: Option<serde_json::Value> = serde_json::from_str(&run.stdout).ok();
        let verdict = report.as_ref().and_then(|r| r["verdict"].as_str()).unwrap_or("(no report)").to_string();
        // The one property above all: never equivalent unless everything was read.
        if !recovers && (verdict == "equivalent" || run.code == 0) {
            fail(format!("said equivalent under a persistent fault; {}", ctx()));
        }
        match (!recovers, case.place, &report) {
            (false, _, Some(r)) => {
                let want = if other == "blue" { "equivalent" } else { "different" };
                if verdict != want {
                    fail(format!("verdict {verdict}, expected {want}; {}\n{}", ctx(), r["incomplete"]));
                }
                if r["summary"]["objects_old"].as_u64() != Some(base.objects_old) {
                    fail(format!(
                        "read {} objects, a run without faults reads {}",
                        r["summary"]["objects_old"], base.objects_old
                    ));
                }
                if other == "green" {
                    let objs = r["objects"].as_array().cloned().unwrap_or_default();
                    let only_settings = objs.len() == 1
                        && objs[0]["key"]["kind"] == "ConfigMap"
                        && objs[0]["key"]["name"] == "settings"
                        && objs[0]["change"] == "changed";
                    if !only_settings {
                        fail(format!("expected exactly ConfigMap settings changed, got {}", r["objects"]));
                    }
                }
            }
            (false, _, None) => fail(format!("no JSON report; {}", ctx())),
            (true, Place::Discovery, _) => {
                if report.is_some() {
                    fail(format!("a failed discovery still produced a report; {}", ctx()));
                }
                let first = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or("");
                if !first.contains("failed to read OLD (ctx:faulty)") {
                    fail(format!("the error does not say which side failed; {}", ctx()));
                }
                if !case.spec.discovery_words.iter().any(|w| first.contains(w)) {
                    fail(format!("the error does not name the fault ({:?}); {}", case.spec.discovery_words, ctx()));
                }
            }
            (true, _, Some(r)) => {
                if verdict != "incomplete" {
                    fail(format!("verdict {verdict}, expected incomplete; {}", ctx()));
                }
                let inc = r["incomplete"].as_array().cloned().unwrap_or_default();
                let only_cm = inc.len() == 1
                    && inc[0]["side"] == "old"
                    && inc[0]["resource"] == "configmaps"
                    && inc[0]["reason"] == case.spec.reason;
                if !only_cm {
                    fail(format!(
                        "expected exactly old configmaps incomplete with reason {}, got {}",
                        case.spec.reason, r["incomplete"]
                    ));
                }
                // Every other type was still read and compared.
                let want = base.objects_old - base.configmaps_old;
                let got =
                    r["summary"]["objects_old"].as_u64().unwrap_or(0).saturating_sub(kind_count(r, "ConfigMap", "old"));
                if got != want {
                    fail(format!("the other types hold {got} objects, a run without faults reads {want}"));
                }
            }
            (true, _, None) => fail(format!("no JSON report; {}", ctx())),
        }
        let reason = report
            .as_ref()
            .and_then(|r| {
                r["incomplete"]
                    .as_array()
                    .and_then(|a| a.first())
                    .map(|i| i["reason"].as_str().unwrap_or("").to_string())
            })
            .unwrap_or_default();
        verdicts.push(if !recovers {
            if report.is_some() {
                format!("{verdict} ({reason}), exit {}", run.code)
            } else {
                format!("run refused, exit {}", run.code)
            }
        } else {
            format!("{verdict} vs {other}")
        });
    }
    let mode =
        if case.persistent { "persistent".to_string() } else { format!("transient (x{})", case.spec.transient_times) };
    let row = format!(
        "| {}{} | {} | {} | {} | {:.1} s |",
        case.spec.fault,
        if case.compressed { " (gzip)" } else { "" },
        case.place.label(),
        mode,
        verdicts.join("; "),
        slowest.as_secs_f32()
    );
    Outcome { row, failures }
}

#[test]
fn fault_matrix_recovers_from_transient_faults_and_fails_closed_on_persistent_ones() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new(NS, &["blue", "green"]);
    let mut extra = String::new();
    for i in 1..=3 {
        write!(
            extra,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: {NS}}}\ndata: {{n: \"{i}\"}}\n"
        )
        .unwrap();
    }
    for ctx in ["blue", "green"] {
        apply(ctx, &workloads(&ns.name, "s3cret"), &[]);
        apply(ctx, &extra, &[]);
    }
    kubectl(
        "green",
        &["-n", NS, "patch", "configmap", "settings", "--type=merge", "-p", r#"{"data":{"timeout":"45s"}}"#],
    );

    // The yardstick: through the proxy with no fault, identical to blue.
    let proxy = FaultProxy::start("blue", "");
    let (_dir, dir) = scratch();
    let base_run = kparity_via(&proxy.kubeconfig(&dir, "faulty"), "blue", "pages");
    assert_eq!(
        base_run.code, 0,
        "without faults the proxied blue must equal blue:\n{}\n{}",
        base_run.stdout, base_run.stderr
    );
    let r = base_run.json();
    let base = Baseline {
        objects_old: r["summary"]["objects_old"].as_u64().expect("objects_old"),
        configmaps_old: kind_count(&r, "ConfigMap", "old"),
    };
    assert!(base.configmaps_old >= 6, "the namespace must hold enough ConfigMaps for continue pages: {}", r["kinds"]);
    assert!(base.objects_old > base.configmaps_old + 5, "other types must hold objects too: {}", r["kinds"]);
    assert!(proxy.requests().iter().any(|r| r.contains("continue=")), "page size 2 must produce continue pages");
    drop(proxy);
    // Read as streams, the same state gives the same report, with no page requested at all.
    let proxy = FaultProxy::start("blue", "");
    let streamed = kparity_via(&proxy.kubeconfig(&dir, "faulty"), "blue", "streams");
    assert_eq!(streamed.code, 0, "{}\n{}", streamed.stdout, streamed.stderr);
    let s = streamed.json();
    assert_eq!(s["summary"], r["summary"], "a streamed read and a paged read of one state differ");
    assert_eq!(s["kinds"], r["kinds"]);
    let requests = proxy.requests();
    assert!(
        requests.iter().any(|r| r.contains("/configmaps?") && r.contains("watch=true")),
        "configmaps were not streamed: {requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.contains("limit=")),
        "a type was paged although streams were served: {requests:?}"
    );
    drop(proxy);

    let mut cases = VecDeque::new();
    let faults = FAULTS.iter().map(|s| (s, false)).chain(COMPRESSED_FAULTS.iter().map(|s| (s, true)));
    for (spec, compressed) in faults {
        for place in [Place::Discovery, Place::FirstPage, Place::LaterPage] {
            // 410 Gone is the answer to an expired continue token: it exists only on later pages.
            if spec.fault == "410" && place != Place::LaterPage {
                continue;
            }
            for persistent in [false, true] {
                cases.push_back(Case { spec, place, persistent, compressed });
            }
        }
        // Any fault on a stream, however persistent, costs the verdict nothing.
        cases.push_back(Case { spec, place: Place::Stream, persistent: true, compressed });
    }
    let total = cases.len();
    let queue = Mutex::new(cases.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let started = Instant::now();
    // Three cases at a time: each is mostly waiting (backoffs, stalls), and the machine is shared.
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((i, case)) = next else { break };
                    let out = run_case(&case, &base);
                    results.lock().unwrap_or_else(|e| e.into_inner()).push((i, out));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let mut table = String::from("| fault | where | mode | verdict | time (slowest run) |\n|---|---|---|---|---|\n");
    let mut failures = Vec::new();
    let mut failed_cases = 0;
    for (_, out) in &results {
        table.push_str(&out.row);
        table.push('\n');
        failed_cases += usize::from(!out.failures.is_empty());
        failures.extend(out.failures.iter().cloned());
    }
    println!("{table}\n{total} cases in {:.0} s", started.elapsed().as_secs_f32());
    let _ = std::fs::write(root().join("target/fault-matrix.md"), &table);
    assert_eq!(results.len(), total);
    assert!(failures.is_empty(), "{failed_cases} of {total} cases failed:\n\n{}\n\n{table}", failures.join("\n\n"));
}

/// A server without the WatchList feature (Kubernetes 1.27-1.31, or 1.33 by default) refuses
/// the stream's parameters with 422 for every type: after the first refusals the side is read
/// with paged lists only, and the report is the one a paged read gives.
#[test]
fn a_server_that_refuses_watch_lists_is_read_with_pages_after_its_first_refusals() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("faults-refused", &["blue"]);
    apply("blue", &workloads(&ns.name, "s3cret"), &[]);
    let read = |script: &str, method: &str| {
        let proxy = FaultProxy::start("blue", script);
        let (_dir, dir) = scratch();
        let kc = proxy.kubeconfig(&dir, "faulty");
        let run = diff_through(&kc, "blue", &["-n", &ns.name, "--concurrency", "2", "--list-method", method]);
        (run, proxy.requests(), proxy.hits())
    };
    let (paged, _, _) = read("", "pages");
    assert_eq!(paged.code, 0, "{}\n{}", paged.stdout, paged.stderr);
    let (refused, requests, hits) = read("watch * 422 always", "streams");
    assert_eq!(refused.code, 0, "a refused stream must fall back to pages:\n{}\n{}", refused.stdout, refused.stderr);
    assert_eq!(refused.json()["summary"], paged.json()["summary"]);
    assert_eq!(refused.json()["kinds"], paged.json()["kinds"]);
    let watches = requests.iter().filter(|r| r.contains("watch=true")).count();
    let types_read = paged.json()["coverage"]["old"]["read"].as_u64().unwrap_or(0);
    assert!(hits[0] >= 1 && watches as u64 == u64::from(hits[0]), "{hits:?} {watches}");
    // At most the streams already in flight when the first refusal came (--concurrency 2).
    assert!(watches <= 2, "{watches} streams asked for after the server refused them: {requests:?}");
    assert!(types_read > 10, "too few types to show the fallback: {types_read}");
}

/// `--list-method auto` reads a type's first page and streams the type only when the server
/// counts more than `STREAM_ABOVE_PAGES` pages in it (`remainingItemCount`); a smaller type is
/// paged on, and so is a type the server does not count (a label selector). Every method gives
/// the same report of the same state.
#[test]
fn auto_pages_a_small_type_and_streams_one_its_first_page_counts_as_large() {
    require_clusters();
    let _g = serial();
    let ns = TestNamespace::new("faults-auto", &["blue"]);
    // More than auto pages through at --page-size 2 (kube-root-ca.crt is one more), and more
    // than its first page holds at the default page size.
    let above = 2 * usize::try_from(kparity::source::list::STREAM_ABOVE_PAGES).expect("small") + 1;
    let probe = usize::try_from(kparity::source::list::PROBE_PAGE).expect("small");
    let large = above.max(probe + 10);
    let mut yaml = String::new();
    for i in 0..large {
        write!(
            yaml,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, labels: {{app: auto}}}}\ndata: {{k: v{i}}}\n"
        )
        .expect("write");
    }
    // Small types: three Services, paged.
    for i in 0..3 {
        write!(yaml, "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, labels: {{app: auto}}}}\nspec: {{ports: [{{port: 80}}]}}\n")
            .expect("write");
    }
    apply("blue", &yaml, &["-n", &ns.name]);
    let read = |method: &str, extra: &[&str]| {
        let proxy = FaultProxy::start("blue", "");
        let (_dir, dir) = scratch();
        let kc = proxy.kubeconfig(&dir, "faulty");
        let mut args = vec!["-n", ns.name.as_str(), "--list-method", method];
        args.extend_from_slice(extra);
        // --page-size 2 unless the extra arguments give one.
        if !extra.contains(&"--page-size") {
            args.extend(["--page-size", "2"]);
        }
        let run = diff_through(&kc, "blue", &args);
        assert_eq!(run.code, 0, "--list-method {method} {extra:?}:\n{}\n{}", run.stdout, run.stderr);
        (run.json(), proxy.requests())
    };
    let of = |requests: &[String], resource: &str| -> Vec<String> {
        let path = format!("/namespaces/{}/{resource}?", ns.name);
        requests.iter().filter(|r| r.contains(&path)).cloned().collect()
    };
    let (paged, _) = read("pages", &[]);
    assert_eq!(kind_count(&paged, "ConfigMap", "old"), large as u64 + 1, "{}", paged["kinds"]);
    let (auto, requests) = read("auto", &[]);
    assert_eq!(auto["summary"], paged["summary"]);
    assert_eq!(auto["kinds"], paged["kinds"]);
    // The large type: its first page (no continue page followed it), then one stream.
    let configmaps = of(&requests, "configmaps");
    let pages = configmaps.iter().filter(|r| r.contains("limit=")).count();
    let streams = configmaps.iter().filter(|r| r.contains("watch=true")).count();
    assert_eq!((pages, streams), (1, 1), "{configmaps:?}");
    assert!(!configmaps.iter().any(|r| r.contains("continue=")), "{configmaps:?}");
    // The small type: paged through (two pages of 2), never streamed.
    let services = of(&requests, "services");
    assert_eq!(services.iter().filter(|r| r.contains("limit=")).count(), 2, "{services:?}");
    assert!(!services.iter().any(|r| r.contains("watch=true")), "{services:?}");
    // At the default page size the type is small: a first page of PROBE_PAGE objects, then
    // pages of 500 from its continue token, and no stream.
    let (default_size, requests) = read("auto", &["--page-size", "500"]);
    assert_eq!(default_size["kinds"], paged["kinds"]);
    let configmaps = of(&requests, "configmaps");
    assert_eq!(configmaps.len(), 2, "{configmaps:?}");
    assert!(
        configmaps[0].contains(&format!("limit={probe}")) && !configmaps[0].contains("continue="),
        "{configmaps:?}"
    );
    assert!(configmaps[1].contains("limit=500") && configmaps[1].contains("continue="), "{configmaps:?}");
    assert!(!configmaps.iter().any(|r| r.contains("watch=true")), "{configmaps:?}");
    // A selector leaves the server without a count: the large type is paged on.
    let (selected_pages, _) = read("pages", &["-l", "app=auto"]);
    let (selected, requests) = read("auto", &["-l", "app=auto"]);
    assert_eq!(selected["kinds"], selected_pages["kinds"]);
    assert_eq!(kind_count(&selected, "ConfigMap", "old"), large as u64, "{}", selected["kinds"]);
    let configmaps = of(&requests, "configmaps");
    assert!(!configmaps.iter().any(|r| r.contains("watch=true")), "{configmaps:?}");
    assert!(configmaps.iter().filter(|r| r.contains("continue=")).count() >= large / 2 - 1, "{configmaps:?}");
    // Streams for every type give the same report too.
    let (streamed, _) = read("streams", &[]);
    assert_eq!(streamed["kinds"], paged["kinds"]);
}

#[test]
fn fault_scripts_parse_and_reject_mistakes() {
    let rules = parse_script(
        "# comment\nfirst-page configmaps 503 x2\ncontinue * 410 always # trailing\ndiscovery /apis stall=30s x1\n",
    )
    .expect("valid script");
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].times, Some(2));
    assert_eq!(rules[1].times, None);
    assert_eq!(rules[2].fault, common::faultproxy::Fault::Stall(Duration::from_secs(30)));
    assert!(parse_script("watch configmaps 422 always").is_ok());
    for bad in ["first-page configmaps 503", "somewhere x 503 x1", "any * 418 x1", "any * 503 twice"] {
        assert!(parse_script(bad).is_err(), "{bad}");
    }
}
