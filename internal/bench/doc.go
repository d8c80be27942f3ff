// Package bench is `parley bench`: it drives a parley server (in this
// process, or a running one on loopback) with relay, latency, round-trip,
// fan-out and connection loads, and reports what it measured against the
// project's performance targets.
//
// # What runs where
//
// Everything runs on this machine and talks over loopback only: the load
// generator (senders over HTTP keep-alive), the recording bot endpoint
// (one loopback listener per bot), WebSocket clients, and the ceiling
// forwarder. They share the CPU with the server, as they would in any
// single-machine benchmark; the ceiling is measured with the same load
// generator and endpoint, so the ratio of a figure to its ceiling is what
// this machine allows parley to do, whatever the machine.
//
// # Method
//
//   - Every message carries a marker (see phase.go) with its phase and
//     send time; receivers find it by a byte search, without decoding.
//   - Closed loop (throughput): each sender sends its next message when
//     the previous one was answered; the rate is counted at the endpoint,
//     inside a window that starts after a warm-up.
//   - Open loop (latency): messages are due on a fixed schedule and their
//     latency runs from the time they were due, so a target that falls
//     behind shows its queueing (no coordinated omission).
//   - Latencies are kept whole (a sorted slice) and quantiles are exact.
//   - Each phase drains (waits for its last callbacks) before the next
//     one starts; messages that never arrive are reported as missing.
//
// # Limits
//
// A phase's window is a few seconds; figures on a shared machine are
// noisy, and the report records the load average before and after. The
// bench never asserts anything: it reports figures and which targets they
// meet.
package bench
