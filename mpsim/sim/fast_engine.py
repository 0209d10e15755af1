"""The compiled engine: the SimPy engine's dataflow rules, with the whole event loop in numba.

It reproduces ``mpsim.sim.simpy_engine.simulate_dataflow`` event for event, so per-frame
completion times agree to the last bit (docs/engines.md states the contract and the layout):

* Timed events (a firing's end, a transfer's end, a source wake-up) live in one binary heap
  keyed ``(time, seq)``, ``seq`` counting schedulings: SimPy's ``(time, NORMAL, eid)`` order.
  Each unit and each link has at most one event in flight, so the heap holds at most
  ``units + links + 1`` entries and an event's payload sits in per-resource arrays.
* Decisions ("this unit or link may start something") go to a FIFO, at most one entry per
  resource (a pending flag, as in SimPy).  They are taken when no timed event of the current
  instant is left: SimPy's priority-2 events, in their scheduling order.
* Ready queues are binary min-heaps of one int64 each: ``(f * max_trips + i) * nodes + n``
  for units, ``(f * max_trips + i) * edges + e`` for links, so the integer order is SimPy's
  tuple order ``(f, i, n)`` / ``(f, i, e)``.
* Per-frame state (inputs still missing per firing, outputs and firings still to come,
  release time, exit level) is a ring buffer indexed ``frame % cap``; ``cap`` starts at twice
  the window and doubles, outside the compiled loop, when more frames are in flight than it
  holds (open-loop rates above capacity, or frames retiring out of order).  Nothing grows
  with the frame count unless ``record=True`` (or ``levels`` is given: one int per frame).

The compiled loop runs in chunks: it returns every ~1 % of frames retired (progress) or when
the ring must grow, and resumes from the state it left in its arrays.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from numba import njit

from mpsim.sim.plan import CARRIED, INIT, INVARIANT, PLAIN, SAME_UNIT, SOURCE, TAP, SimPlan
from mpsim.sim.result import SimResult
from mpsim.sim.stats import BIN_GROWTH, BIN_LO, N_BINS, LatencyHistogram

# Integer parameters P[...]
(P_NU, P_NL, P_NO, P_F, P_BT, P_NN, P_BN, P_BE, P_FRAMES, P_WINDOW, P_OPEN, P_RECORD, P_LEVELS) = range(13)
# Integer state S[...]
(S_EVN, S_SEQ, S_NEXT, S_FINISHED, S_OLDEST, S_WARMUP, S_F0DONE, S_NSTEADY, S_WAITING, S_FIRINGS,
 S_DQH, S_DQN, S_CAP, S_NEED) = range(14)
# Float state T[...]
(T_NOW, T_FIRST, T_LAST, T_ALL_FIRST, T_ALL_LAST, T_LOCAL, T_OFFCHIP, T_ECOMP, T_ECONV,
 T_EMOVE) = range(10)
# Return codes of the compiled loop
DONE, PROGRESS, GROW = 0, 1, 2

# Static arrays (from the plan), in the order of the tuple the compiled loop receives.
G_NAMES = ("unit_of", "service", "trips", "base", "oe_ptr", "oe_idx", "src_edges", "e_dst", "e_kind", "e_tap",
           "e_link", "e_time", "e_bytes", "link_energy", "of_ptr", "of_idx", "need0", "local_bytes",
           "offchip_bytes", "e_comp", "e_conv", "ltrips", "lwork", "levels", "PF")
# Mutable state arrays, likewise.
Z_NAMES = ("ev_t", "ev_s", "ev_r", "cur_a", "cur_f", "cur_i", "idle", "pending", "dq", "uq", "uq_off", "uq_n",
           "lq", "lq_off", "lq_n", "st", "left", "work", "relt", "lev", "hist", "hist_tot", "hist_n", "hall",
           "hall_tot", "hall_n", "xhist", "xhist_tot", "xhist_n", "xall", "xall_tot", "xall_n", "first",
           "unit_busy", "node_busy", "link_busy", "link_bytes", "rel", "done", "T")
RING = ("left", "work", "relt", "lev")  # per-frame slots besides st


# Heaps ---------------------------------------------------------------------------------------

@njit(cache=True, _nrt=False)
def _ev_push(ev_t, ev_s, ev_r, n, time, seq, rid):
    """Push (time, seq, rid) onto the event heap of size n; return the new size."""
    j = n
    while j > 0:
        p = (j - 1) >> 1
        if ev_t[p] < time or (ev_t[p] == time and ev_s[p] < seq):
            break
        ev_t[j] = ev_t[p]
        ev_s[j] = ev_s[p]
        ev_r[j] = ev_r[p]
        j = p
    ev_t[j] = time
    ev_s[j] = seq
    ev_r[j] = rid
    return n + 1


@njit(cache=True, _nrt=False)
def _ev_pop(ev_t, ev_s, ev_r, n):
    """Remove the root of the event heap of size n; return the new size."""
    n -= 1
    if n == 0:
        return 0
    time, seq, rid = ev_t[n], ev_s[n], ev_r[n]
    j = 0
    while True:
        c = 2 * j + 1
        if c >= n:
            break
        if c + 1 < n and (ev_t[c + 1] < ev_t[c] or (ev_t[c + 1] == ev_t[c] and ev_s[c + 1] < ev_s[c])):
            c += 1
        if time < ev_t[c] or (time == ev_t[c] and seq < ev_s[c]):
            break
        ev_t[j] = ev_t[c]
        ev_s[j] = ev_s[c]
        ev_r[j] = ev_r[c]
        j = c
    ev_t[j] = time
    ev_s[j] = seq
    ev_r[j] = rid
    return n


@njit(cache=True, _nrt=False)
def _key_push(h, off, n, key):
    """Push key onto the int64 min-heap h[off : off + n]; return the new size."""
    j = n
    while j > 0:
        p = (j - 1) >> 1
        if h[off + p] <= key:
            break
        h[off + j] = h[off + p]
        j = p
    h[off + j] = key
    return n + 1


@njit(cache=True, _nrt=False)
def _key_pop(h, off, n):
    """Pop the smallest key of h[off : off + n]; return (key, new size)."""
    top = h[off]
    n -= 1
    if n > 0:
        key = h[off + n]
        j = 0
        while True:
            c = 2 * j + 1
            if c >= n:
                break
            if c + 1 < n and h[off + c + 1] < h[off + c]:
                c += 1
            if key <= h[off + c]:
                break
            h[off + j] = h[off + c]
            j = c
        h[off + j] = key
    return top, n


# Dataflow steps --------------------------------------------------------------------------------
# The decision FIFO (dq, head dqh, count dqn) is threaded through as scalars: the helpers
# return the new count.

@njit(cache=True, _nrt=False)
def _decide_later(rid, idle, pending, dq, dqh, dqn):
    """Queue a decision for resource rid if it is idle and has none queued (SimPy's _decide)."""
    if idle[rid] and not pending[rid]:
        pending[rid] = True
        R = dq.shape[0]
        q = dqh + dqn
        dq[q - R if q >= R else q] = rid
        return dqn + 1
    return dqn


@njit(cache=True, _nrt=False)
def _targets(kind, i, tap, dst_trips):
    """Iterations [lo, hi) of the consumer that the producer's iteration i feeds (SimPy's targets)."""
    if kind == PLAIN:
        lo, hi = i, i + 1
    elif kind == CARRIED:
        lo, hi = i + 1, i + 2
    elif kind == INVARIANT:
        lo, hi = 0, dst_trips
    elif kind == INIT:
        lo, hi = 0, 1
    else:  # TAP
        lo, hi = (0, 1) if i == tap else (0, 0)
    return lo, min(hi, dst_trips)


@njit(cache=True, _nrt=False)
def _deliver(e, f, i, slot, F, NN, BT, BN, e_dst, e_kind, e_tap, ltrips, lev, base, unit_of, st, uq, uq_off, uq_n,
             idle, pending, dq, dqh, dqn):
    """Edge e delivered frame f's data of source iteration i; queue what became ready."""
    dst = e_dst[e]
    j0, j1 = _targets(e_kind[e], i, e_tap[e], ltrips[lev[slot] * NN + dst])
    b = slot * F + base[dst]
    for j in range(j0, j1):
        st[b + j] -= 1
        if st[b + j] == 0:
            u = unit_of[dst]
            uq_n[u] = _key_push(uq, uq_off[u], uq_n[u], (((f << BT) | j) << BN) | dst)
            dqn = _decide_later(u, idle, pending, dq, dqh, dqn)
    return dqn


@njit(cache=True, _nrt=False)
def _request(e, f, i, slot, F, NN, BT, BN, BE, NU, e_dst, e_kind, e_tap, e_link, ltrips, lev, base, unit_of, st,
             uq, uq_off, uq_n, lq, lq_off, lq_n, idle, pending, dq, dqh, dqn):
    """Frame f's data on edge e (source iteration i) asks for its link, or arrives at once."""
    link = e_link[e]
    if link == SAME_UNIT:
        return _deliver(e, f, i, slot, F, NN, BT, BN, e_dst, e_kind, e_tap, ltrips, lev, base, unit_of, st, uq,
                        uq_off, uq_n, idle, pending, dq, dqh, dqn)
    lq_n[link] = _key_push(lq, lq_off[link], lq_n[link], (((f << BT) | i) << BE) | e)
    return _decide_later(NU + link, idle, pending, dq, dqh, dqn)


@njit(cache=True, _nrt=False)
def _releases_due(nf, frames, finished, window, is_open, rate, now):
    """How many frames the source releases when it runs now (SimPy's source loop)."""
    if is_open:
        if nf >= frames:
            return 0
        k = 1
        j = nf + 1
        while j < frames and not (j / rate - now > 0):
            k += 1
            j += 1
        return k
    return max(0, min(window - (nf - finished), frames - nf))


@njit(cache=True, _nrt=False)
def _add_latency(counts, tot, cnt, k, lat, lo, log_growth, nbins):
    b = int(math.log(max(lat, lo) / lo) / log_growth)
    if b > nbins - 1:
        b = nbins - 1
    counts[k, b] += 1
    tot[k] += lat
    cnt[k] += 1


@njit(cache=True, _nrt=False)
def _run(P, S, G, Z, stop):
    """Run the event loop until every event is processed (DONE), ``stop`` frames have retired
    (PROGRESS) or the frame ring is too small for the next release (GROW, S[S_NEED] set)."""
    (unit_of, service, trips, base, oe_ptr, oe_idx, src_edges, e_dst, e_kind, e_tap, e_link, e_time, e_bytes,
     link_energy, of_ptr, of_idx, need0, local_bytes, offchip_bytes, e_comp, e_conv, ltrips, lwork, levels,
     PF) = G
    (ev_t, ev_s, ev_r, cur_a, cur_f, cur_i, idle, pending, dq, uq, uq_off, uq_n, lq, lq_off, lq_n, st, left,
     work, relt, lev, hist, hist_tot, hist_n, hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall,
     xall_tot, xall_n, first, unit_busy, node_busy, link_busy, link_bytes, rel, done, T) = Z
    NU = P[P_NU]
    R = NU + P[P_NL]
    NO = P[P_NO]
    NN = P[P_NN]
    F = P[P_F]
    BT, BN, BE = P[P_BT], P[P_BN], P[P_BE]
    MT_MASK, NN_MASK, NE_MASK = (1 << BT) - 1, (1 << BN) - 1, (1 << BE) - 1
    frames = P[P_FRAMES]
    window = P[P_WINDOW]
    is_open = P[P_OPEN] != 0
    record = P[P_RECORD] != 0
    has_levels = P[P_LEVELS] != 0
    rate, lepb, oepb, lo, log_growth = PF[0], PF[1], PF[2], PF[3], PF[4]
    nbins = hist.shape[1]
    cap = S[S_CAP]
    mask = cap - 1  # cap is a power of two
    # Hot scalars live in locals; S and T hold them between calls.
    evn, seq, dqh, dqn = S[S_EVN], S[S_SEQ], S[S_DQH], S[S_DQN]
    now = T[T_NOW]
    code = DONE
    while True:
        if S[S_FINISHED] >= stop:
            code = PROGRESS
            break
        if evn > 0 and ev_t[0] == now:
            r = ev_r[0]
            if r < NU:
                # A firing ends.
                evn = _ev_pop(ev_t, ev_s, ev_r, evn)
                u = r
                n, f, i = cur_a[u], cur_f[u], cur_i[u]
                slot = f & mask
                idle[u] = True
                dur = service[n]
                unit_busy[u] += dur
                node_busy[n] += dur
                T[T_LOCAL] += local_bytes[n]
                T[T_OFFCHIP] += offchip_bytes[n]
                T[T_ECOMP] += e_comp[n]
                T[T_ECONV] += e_conv[n]
                T[T_EMOVE] += local_bytes[n] * lepb + offchip_bytes[n] * oepb
                S[S_FIRINGS] += 1
                lt = lev[slot] * NN
                for q in range(oe_ptr[n], oe_ptr[n + 1]):
                    e = oe_idx[q]
                    j0, j1 = _targets(e_kind[e], i, e_tap[e], ltrips[lt + e_dst[e]])
                    if j1 > j0:  # nothing moves to a consumer the frame no longer needs
                        dqn = _request(e, f, i, slot, F, NN, BT, BN, BE, NU, e_dst, e_kind, e_tap, e_link, ltrips,
                                       lev, base, unit_of, st, uq, uq_off, uq_n, lq, lq_off, lq_n, idle, pending,
                                       dq, dqh, dqn)
                fi = base[n] + i
                for q in range(of_ptr[fi], of_ptr[fi + 1]):
                    k = of_idx[q]
                    lat = now - relt[slot]
                    if f == 0:
                        first[k] = lat
                    if record:
                        done[f, k] = now
                    steady = f >= S[S_WARMUP]
                    _add_latency(hall, hall_tot, hall_n, k, lat, lo, log_growth, nbins)
                    if steady:
                        _add_latency(hist, hist_tot, hist_n, k, lat, lo, log_growth, nbins)
                    left[slot] -= 1
                    if left[slot] == 0:
                        # The frame's last output: its exit, where throughput is measured.
                        _add_latency(xall, xall_tot, xall_n, 0, now - relt[slot], lo, log_growth, nbins)
                        if steady:
                            _add_latency(xhist, xhist_tot, xhist_n, 0, now - relt[slot], lo, log_growth, nbins)
                        if f == 0:
                            S[S_F0DONE] = 1
                        T[T_ALL_FIRST] = min(T[T_ALL_FIRST], now)
                        T[T_ALL_LAST] = max(T[T_ALL_LAST], now)
                        if steady:
                            S[S_NSTEADY] += 1
                            T[T_FIRST] = min(T[T_FIRST], now)
                            T[T_LAST] = max(T[T_LAST], now)
                work[slot] -= 1
                if work[slot] == 0:
                    # Retire: free the slot, wake the source if it waits for one.
                    S[S_FINISHED] += 1
                    o = S[S_OLDEST]
                    while o < S[S_NEXT] and work[o & mask] == 0:
                        o += 1
                    S[S_OLDEST] = o
                    if S[S_WAITING]:
                        S[S_WAITING] = 0
                        evn = _ev_push(ev_t, ev_s, ev_r, evn, now, seq, R)
                        seq += 1
                if uq_n[u] > 0:
                    dqn = _decide_later(u, idle, pending, dq, dqh, dqn)
            elif r < R:
                # A transfer ends.
                evn = _ev_pop(ev_t, ev_s, ev_r, evn)
                link = r - NU
                e, f, i = cur_a[r], cur_f[r], cur_i[r]
                idle[r] = True
                dqn = _deliver(e, f, i, f & mask, F, NN, BT, BN, e_dst, e_kind, e_tap, ltrips, lev, base, unit_of, st,
                               uq, uq_off, uq_n, idle, pending, dq, dqh, dqn)
                if lq_n[link] > 0:
                    dqn = _decide_later(r, idle, pending, dq, dqh, dqn)
            else:
                # The source runs: it releases k frames at once (SimPy's loop, whose conditions
                # nothing changes while it runs), then waits for a time or a retirement.
                k = _releases_due(S[S_NEXT], frames, S[S_FINISHED], window, is_open, rate, now)
                if S[S_NEXT] + k - S[S_OLDEST] > cap:
                    S[S_NEED] = S[S_NEXT] + k - S[S_OLDEST]
                    code = GROW
                    break
                evn = _ev_pop(ev_t, ev_s, ev_r, evn)
                for _ in range(k):
                    f = S[S_NEXT]
                    S[S_NEXT] = f + 1
                    slot = f & mask
                    level = levels[f] if has_levels else NO - 1
                    b = slot * F
                    for q in range(F):
                        st[b + q] = need0[q]
                    lev[slot] = level
                    left[slot] = level + 1
                    work[slot] = lwork[level]
                    relt[slot] = now
                    if S[S_F0DONE] == 0:
                        S[S_WARMUP] += 1
                    if record:
                        rel[f] = now
                    for q in range(src_edges.shape[0]):
                        dqn = _request(src_edges[q], f, 0, slot, F, NN, BT, BN, BE, NU, e_dst, e_kind, e_tap, e_link,
                                       ltrips, lev, base, unit_of, st, uq, uq_off, uq_n, lq, lq_off, lq_n, idle,
                                       pending, dq, dqh, dqn)
                if S[S_NEXT] < frames:
                    if is_open:
                        wait = S[S_NEXT] / rate - now
                        evn = _ev_push(ev_t, ev_s, ev_r, evn, now + wait, seq, R)
                        seq += 1
                    else:
                        S[S_WAITING] = 1
        elif dqn > 0:
            # A decision: the resource starts its smallest-key request if it is idle.
            r = dq[dqh]
            dqh = dqh + 1 if dqh + 1 < R else 0
            dqn -= 1
            pending[r] = False
            if r < NU:
                if not idle[r] or uq_n[r] == 0:
                    continue
                key, uq_n[r] = _key_pop(uq, uq_off[r], uq_n[r])
                n = key & NN_MASK
                idle[r] = False
                cur_a[r], cur_f[r], cur_i[r] = n, key >> (BT + BN), (key >> BN) & MT_MASK
                evn = _ev_push(ev_t, ev_s, ev_r, evn, now + service[n], seq, r)
                seq += 1
            else:
                link = r - NU
                if not idle[r] or lq_n[link] == 0:
                    continue
                key, lq_n[link] = _key_pop(lq, lq_off[link], lq_n[link])
                e = key & NE_MASK
                idle[r] = False
                cur_a[r], cur_f[r], cur_i[r] = e, key >> (BT + BE), (key >> BE) & MT_MASK
                dur = e_time[e]
                link_busy[link] += dur
                link_bytes[link] += e_bytes[e]
                T[T_EMOVE] += e_bytes[e] * link_energy[link]
                evn = _ev_push(ev_t, ev_s, ev_r, evn, now + dur, seq, r)
                seq += 1
        elif evn > 0:
            now = ev_t[0]
        else:
            break
    S[S_EVN], S[S_SEQ], S[S_DQH], S[S_DQN] = evn, seq, dqh, dqn
    T[T_NOW] = now
    return code


# Python side: flat arrays in, SimResult out ----------------------------------------------------

def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    idx = np.array([x for r in rows for x in r], dtype=np.int64)
    return ptr, idx


def _static(plan: SimPlan, rate: float | None, levels: np.ndarray | None) -> dict[str, np.ndarray]:
    nn = plan.n_nodes
    trips = np.ascontiguousarray(plan.trips, dtype=np.int64)
    base = np.zeros(nn, dtype=np.int64)
    base[1:] = np.cumsum(trips)[:-1]
    n_fire = int(trips.sum())
    out_edges: list[list[int]] = [[] for _ in range(nn)]
    src = []
    for e, s in enumerate(plan.e_src):
        (src if s == SOURCE else out_edges[int(s)]).append(e)
    oe_ptr, oe_idx = _csr(out_edges)
    outs: list[list[int]] = [[] for _ in range(n_fire)]
    for k, (n, it) in enumerate(zip(plan.out_node, plan.out_iter)):
        it = max(0, int(it))
        if it < trips[n]:  # an output at an iteration that never fires never completes (as in SimPy)
            outs[int(base[n]) + it].append(k)
    of_ptr, of_idx = _csr(outs)
    need0 = np.zeros(n_fire, dtype=np.int32)
    for dst, kind in zip(plan.e_dst, plan.e_kind):
        b, t = int(base[dst]), int(trips[dst])
        if kind in (PLAIN, INVARIANT):  # every iteration
            need0[b:b + t] += 1
        elif kind == CARRIED:
            need0[b + 1:b + t] += 1
        else:  # INIT, TAP: iteration 0
            need0[b] += 1
    lt = np.ascontiguousarray(plan.level_trips, dtype=np.int64)
    f64 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    i64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    pf = np.array([float(rate) if rate else 0.0, float(plan.local_energy_j_per_byte),
                   float(plan.offchip_energy_j_per_byte), BIN_LO, math.log(BIN_GROWTH)])
    return dict(
        unit_of=i64(plan.unit_of), service=f64(plan.service_s), trips=trips, base=base, oe_ptr=oe_ptr, oe_idx=oe_idx,
        src_edges=np.array(src, dtype=np.int64), e_dst=i64(plan.e_dst), e_kind=i64(plan.e_kind),
        e_tap=i64(plan.e_tap), e_link=i64(plan.e_link), e_time=f64(plan.e_time), e_bytes=f64(plan.e_bytes),
        link_energy=f64(plan.link_energy_j_per_byte), of_ptr=of_ptr, of_idx=of_idx, need0=need0,
        local_bytes=f64(plan.local_bytes), offchip_bytes=f64(plan.offchip_bytes),
        e_comp=f64(plan.energy_compute_j), e_conv=f64(plan.energy_conversion_j), ltrips=lt.ravel(),
        lwork=lt.sum(axis=1), levels=np.zeros(1, dtype=np.int64) if levels is None else i64(levels), PF=pf,
    )


def _bits(n: int) -> int:
    """Bits that hold 0..n-1."""
    return max(1, int(n - 1).bit_length())


def _heap_offsets(bound: np.ndarray, cap: int) -> np.ndarray:
    off = np.zeros(len(bound) + 1, dtype=np.int64)
    off[1:] = np.cumsum(bound * cap)
    return off


def _ring(Z: dict, cap: int, F: int, ubound: np.ndarray, lbound: np.ndarray) -> None:
    """Allocate the frame ring and the ready heaps it bounds, for ``cap`` frames in flight."""
    Z["st"] = np.zeros(cap * F, dtype=np.int32)
    Z["left"], Z["work"], Z["lev"] = (np.zeros(cap, dtype=np.int64) for _ in range(3))
    Z["relt"] = np.zeros(cap)
    for h, off, bound in (("uq", "uq_off", ubound), ("lq", "lq_off", lbound)):
        Z[off] = _heap_offsets(bound, cap)
        Z[h] = np.zeros(max(1, int(Z[off][-1])), dtype=np.int64)


def _grow(Z: dict, S: np.ndarray, F: int, ubound: np.ndarray, lbound: np.ndarray) -> None:
    """Enlarge the frame ring (and the ready heaps sized by it) to hold S[S_NEED] frames."""
    cap, need = int(S[S_CAP]), int(S[S_NEED])
    new = cap
    while new < need:
        new *= 2
    old = {k: Z[k] for k in ("st", "uq", "uq_off", "lq", "lq_off") + RING}
    _ring(Z, new, F, ubound, lbound)
    live = np.arange(int(S[S_OLDEST]), int(S[S_NEXT]), dtype=np.int64)
    a, b = live & (cap - 1), live & (new - 1)
    Z["st"].reshape(new, F)[b] = old["st"].reshape(cap, F)[a]
    for k in RING:
        Z[k][b] = old[k][a]
    for h, off, n in (("uq", "uq_off", "uq_n"), ("lq", "lq_off", "lq_n")):
        for r, size in enumerate(Z[n]):  # heap contents keep their order at the new offset
            Z[h][Z[off][r]:Z[off][r] + size] = old[h][old[off][r]:old[off][r] + size]
    S[S_CAP] = new


def _hist(counts: np.ndarray, total: np.ndarray, n: np.ndarray) -> LatencyHistogram:
    h = LatencyHistogram(counts.shape[0])
    h.counts, h.total, h.n = counts, total, n
    return h


def simulate_fast(plan: SimPlan, frames: int, rate: float | None = None, window: int | None = None,
                  record: bool = False, progress: Callable[[int], None] | None = None,
                  levels: np.ndarray | None = None) -> SimResult:
    """Asynchronous dataflow, compiled: the results of ``simulate_dataflow``, event for event.

    ``levels[f] = k - 1`` makes frame f exit early after output m_k (anytime prediction).
    """
    if levels is not None:
        levels = np.asarray(levels)
        if len(levels) < frames or np.any((levels < 0) | (levels >= plan.n_outputs)):
            raise ValueError(f"levels must give an output index 0..{plan.n_outputs - 1} for each of {frames} frames")
    G = _static(plan, rate, levels)
    nu, nl, no, nn = plan.n_units, len(plan.link_names), plan.n_outputs, plan.n_nodes
    trips = G["trips"]
    F = int(trips.sum())
    ne = len(plan.e_src)
    win = None if rate else int(window or plan.window)
    # Ready-queue keys pack (f, i, n) and (f, i, e) into one int64 with bit fields.
    bt, bn, be = (_bits(int(trips.max(initial=1))), _bits(nn), _bits(ne))
    if _bits(frames) + bt + max(bn, be) > 62:
        raise ValueError(f"too many frames for the compiled engine's 63-bit keys: {frames}")
    P = np.array([nu, nl, no, F, bt, nn, bn, be, frames, win or 0, 1 if rate else 0,
                  1 if record else 0, 0 if levels is None else 1], dtype=np.int64)
    # Ready-heap bounds per frame in flight: firings per unit, requests per link.
    ubound = np.bincount(G["unit_of"], weights=trips, minlength=nu).astype(np.int64)
    lbound = np.zeros(nl, dtype=np.int64)
    for e in range(ne):
        if plan.e_link[e] != SAME_UNIT:
            s = int(plan.e_src[e])
            lbound[plan.e_link[e]] += 1 if s == SOURCE else int(trips[s])
    cap = 1 << _bits(2 * win + 2) if win else 64  # a power of two: slot = f & (cap - 1)
    R = nu + nl
    Z: dict[str, np.ndarray] = dict(
        ev_t=np.zeros(R + 1), ev_s=np.zeros(R + 1, dtype=np.int64), ev_r=np.zeros(R + 1, dtype=np.int64),
        cur_a=np.zeros(R, dtype=np.int64), cur_f=np.zeros(R, dtype=np.int64), cur_i=np.zeros(R, dtype=np.int64),
        idle=np.ones(R, dtype=np.bool_), pending=np.zeros(R, dtype=np.bool_), dq=np.zeros(R, dtype=np.int64),
        uq_n=np.zeros(nu, dtype=np.int64), lq_n=np.zeros(nl, dtype=np.int64),
        first=np.full(no, np.nan), unit_busy=np.zeros(nu), node_busy=np.zeros(nn), link_busy=np.zeros(nl),
        link_bytes=np.zeros(nl), rel=np.zeros(frames if record else 1),
        done=np.full((frames, no), np.nan) if record else np.zeros((1, no)),
        T=np.array([0.0, np.inf, -np.inf, np.inf, -np.inf, 0.0, 0.0, 0.0, 0.0, 0.0]),
    )
    for name, k in (("hist", no), ("hall", no), ("xhist", 1), ("xall", 1)):
        Z[name] = np.zeros((k, N_BINS), dtype=np.int64)
        Z[name + "_tot"] = np.zeros(k)
        Z[name + "_n"] = np.zeros(k, dtype=np.int64)
    _ring(Z, cap, F, ubound, lbound)
    S = np.zeros(14, dtype=np.int64)
    S[S_CAP] = cap
    # The source starts at time 0 (SimPy's Initialize event): the one event scheduled so far.
    Z["ev_r"][0] = R
    S[S_EVN], S[S_SEQ] = 1, 1
    Gt = tuple(G[k] for k in G_NAMES)
    step = max(1, frames // 100)
    reported = 0
    while True:
        stop = int(S[S_FINISHED]) + step if progress is not None else frames + 1
        code = _run(P, S, Gt, tuple(Z[k] for k in Z_NAMES), stop)
        if code == GROW:
            _grow(Z, S, F, ubound, lbound)
            continue
        if progress is not None and int(S[S_FINISHED]) != reported:
            reported = int(S[S_FINISHED])
            progress(reported)
        if code == DONE:
            break
    T = Z["T"]
    warmup, n_steady = int(S[S_WARMUP]), int(S[S_NSTEADY])
    hist, exit_hist = _hist(Z["hist"], Z["hist_tot"], Z["hist_n"]), _hist(Z["xhist"], Z["xhist_tot"], Z["xhist_n"])
    t_first, t_last = float(T[T_FIRST]), float(T[T_LAST])
    if n_steady < 2:  # too few frames for a steady state: use them all (as the SimPy engine)
        warmup, n_steady = 0, int(S[S_FINISHED])
        hist, exit_hist = _hist(Z["hall"], Z["hall_tot"], Z["hall_n"]), _hist(Z["xall"], Z["xall_tot"], Z["xall_n"])
        t_first, t_last = float(T[T_ALL_FIRST]), float(T[T_ALL_LAST])
    return SimResult(
        frames=frames, warmup=warmup, first_latency=Z["first"], hist=hist, exit_hist=exit_hist, t_first=t_first,
        t_last=t_last, n_steady=n_steady, end_time=float(T[T_NOW]), unit_busy=Z["unit_busy"],
        node_busy=Z["node_busy"], link_busy=Z["link_busy"], link_bytes=Z["link_bytes"],
        local_bytes=float(T[T_LOCAL]), offchip_bytes=float(T[T_OFFCHIP]), energy_compute_j=float(T[T_ECOMP]),
        energy_conversion_j=float(T[T_ECONV]), energy_movement_j=float(T[T_EMOVE]), firings=int(S[S_FIRINGS]),
        release=Z["rel"] if record else None, done=Z["done"] if record else None, trace=[],
    )
