"""The compiled engine: the SimPy engine's dataflow rules, with the whole event loop in numba.

It replays ``mpsim.sim.simpy_engine.simulate_dataflow`` event for event, so it gives the same
results to the last bit (docs/engines.md states the rules and describes this layout):

* Timed events (a firing's end, a transfer's end, the source waking) sit in a ring sorted by
  time.  SimPy orders same-time events by scheduling order, and every new event is scheduled
  after every queued one, so an insertion goes after the queued events of its time and no
  sequence number is needed.  A unit or a link has at most one event in flight: the ring
  holds at most units + links + 1 events; what the event is about sits in its resource's row.
* Decisions ("this unit or link may start something") wait in a FIFO, one entry per resource
  at most (SimPy's pending flag), and are taken when no timed event of the instant is left:
  SimPy's priority-2 events, in their order.  A decision whose request takes no time puts its
  end into the current instant, before the next decision, as in SimPy.
* Ready queues are binary min-heaps of int64 keys ``((f << BT | i) << BK) | n`` (firings,
  per unit) and ``((f << BT | i) << BK) | e`` (transfers, per link): integer order is SimPy's
  tuple order (f, i, n) / (f, i, e).  All heaps share one array, one slice per resource.
* Per-frame state (inputs each firing still misses, outputs and firings to come, release time,
  exit level) lives in a ring of ``cap`` slots, slot = frame & (cap - 1); ``cap`` starts at
  the power of two above the window (64 for an offered rate).  When more frames are in flight than it holds
  (a rate above capacity, frames retiring out of order), or a ready heap nears its capacity,
  the compiled loop returns, Python grows the arrays and the loop resumes where it stopped.
  Memory does not grow with the frame count unless ``record=True`` (``levels``: one int each).

* Accounting is a count: firings per node (at their end) and transfers per edge (at their
  start); ``mpsim.sim.result.counted`` turns the counts into busy times, bytes and energies, as
  for every engine.  The first ``trace_frames`` frames' firings and transfers are recorded as
  rows (at their decisions, as the SimPy engine appends them).

The loop also returns every ~1 % of frames retired when ``progress`` is given.  Kernels run
without numba's reference counting (``_nrt=False``: nothing is allocated inside) and index
with unsigned integers (no negative-index fix-up): a 5x and a 1.4x on the hot loop.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from numba import njit

from mpsim.sim.plan import CARRIED, INIT, INVARIANT, PLAIN, SAME_UNIT, SOURCE, TAP, SimPlan
from mpsim.sim.result import SimResult, counted, deadlock
from mpsim.sim.stats import BIN_GROWTH, BIN_LO, N_BINS, LatencyHistogram

# Integer parameters P[...]
(P_NU, P_R, P_NO, P_F, P_NN, P_BT, P_BK, P_FRAMES, P_WINDOW, P_OPEN, P_RECORD, P_LEVELS, P_SLACK,
 P_TRACE) = range(14)
# Integer state S[...]
(S_EVN, S_EVH, S_NEXT, S_FINISHED, S_OLDEST, S_WARMUP, S_F0DONE, S_NSTEADY, S_WAITING, S_FIRINGS,
 S_DQH, S_DQN, S_CAP, S_NEED, S_NEEDK, S_TRN) = range(16)
S_SIZE = 16
# Float state T[...]
(T_NOW, T_FIRST, T_LAST, T_ALL_FIRST, T_ALL_LAST) = range(5)
# Tables are flat arrays of fixed-width rows: node n's column c of NI is NI[n * NI_W + c].
NI_W, NI_UNIT, NI_BASE, NI_OE_LO, NI_OE_HI = 4, 0, 1, 2, 3
# EI_RID: the link's resource id, or -1 inside a unit; EI_TAP: the tap iteration of a TAP edge, else -1;
# EI_LO_I..EI_HI_0: the consumer iterations an arrival of producer iteration i feeds (see _targets).
EI_W, EI_DST, EI_KIND, EI_TAP, EI_RID, EI_LO_I, EI_LO_0, EI_HI_I, EI_HI_0 = 8, 0, 1, 2, 3, 4, 5, 6, 7
# Resources, units 0..NU-1 then links: the key of the request in service, idle and pending
# flags, the ready heap's offset, size and capacity.  Row R (after the last resource) holds a
# flag: some ready heap is nearly full.
RS_W, RS_KEY, RS_IDLE, RS_PENDING, RS_QOFF, RS_QN, RS_QCAP = 8, 0, 3, 4, 5, 6, 7
# The frame ring: outputs and firings still to come, exit level * nodes (the frame's row of ltrips).
FR_W, FR_LEFT, FR_WORK, FR_LT = 4, 0, 1, 2
# Return codes of the compiled loop
DONE, PROGRESS, GROW = 0, 1, 2

# Static arrays (from the plan), in the order of the tuple the compiled loop receives.
G_NAMES = ("NI", "svc", "EI", "etime", "oe_idx", "src_edges", "of_ptr", "of_idx", "need0", "ltrips", "lwork",
           "levels", "srcpush", "PF")
# Mutable state arrays, likewise.
Z_NAMES = ("ev_t", "ev_r", "RS", "dq", "qh", "st", "FR", "relt", "cnt",
           "hist", "hist_tot", "hist_n", "hall", "hall_tot", "hall_n", "xhist", "xhist_tot", "xhist_n", "xall",
           "xall_tot", "xall_n", "first", "rel", "done", "T", "tr", "trf")

U = np.uint64  # indices are cast to unsigned in the hot paths: numba then skips its negative-index fix-up


# Event ring and ready heaps --------------------------------------------------------------------

@njit(cache=True, _nrt=False)
def _ev_insert(ev_t, ev_r, head, n, time, rid):
    """Insert an event into the time-sorted ring ev_t/ev_r[head : head + n]; return the new head.

    Every new event was scheduled after every queued one, so SimPy's ``(time, eid)`` order
    puts it after every queued event of the same time.  The shorter side moves: the events
    before it one slot to the front, or the events after it one slot to the back.
    """
    m = ev_t.shape[0] - 1
    if n == 0:
        ev_t[U(head)] = time
        ev_r[U(head)] = rid
        return head
    if time < ev_t[U((head + (n >> 1)) & m)]:
        # In the front half: move the events due no later than it one slot to the front.
        j = head - 1
        while True:
            k = (j + 1) & m
            tk = ev_t[U(k)]
            if tk > time:
                break
            ev_t[U(j & m)] = tk
            ev_r[U(j & m)] = ev_r[U(k)]
            j += 1
        ev_t[U(j & m)] = time
        ev_r[U(j & m)] = rid
        return (head - 1) & m
    # In the back half: move the later events one slot to the back.
    j = head + n
    while True:
        k = (j - 1) & m
        tk = ev_t[U(k)]
        if tk <= time:
            break
        ev_t[U(j & m)] = tk
        ev_r[U(j & m)] = ev_r[U(k)]
        j -= 1
    ev_t[U(j & m)] = time
    ev_r[U(j & m)] = rid
    return head


@njit(cache=True, _nrt=False)
def _key_push(h, off, n, key):
    """Push key onto the int64 min-heap h[off : off + n]."""
    j = n
    while j > 0:
        p = (j - 1) >> 1
        hp = h[U(off + p)]
        if hp <= key:
            break
        h[U(off + j)] = hp
        j = p
    h[U(off + j)] = key


@njit(cache=True, _nrt=False)
def _key_pop(h, off, n):
    """Pop and return the smallest key of h[off : off + n] (n > 0)."""
    top = h[U(off)]
    n -= 1
    if n > 0:
        key = h[U(off + n)]
        j = 0
        while True:
            c = 2 * j + 1
            if c >= n:
                break
            hc = h[U(off + c)]
            if c + 1 < n:
                h2 = h[U(off + c + 1)]
                if h2 < hc:
                    c += 1
                    hc = h2
            if key <= hc:
                break
            h[U(off + j)] = hc
            j = c
        h[U(off + j)] = key
    return top


@njit(cache=True, _nrt=False)
def _trace(tr, trf, S, kind, res, a, f, i, start, dur):
    """One row of the trace of the first frames: a firing (kind 0: unit res, node a), a transfer
    (kind 1: link res, edge a), or in the step modes a step (kind 2) or one of its phases (kind 3)
    (a: the name's index in STEP_NAMES / PHASE_NAMES, f = -1, i: the step's index)."""
    r = S[S_TRN]
    tr[r, 0], tr[r, 1], tr[r, 2], tr[r, 3], tr[r, 4] = kind, res, a, f, i
    trf[r, 0], trf[r, 1] = start, dur
    S[S_TRN] = r + 1


# Dataflow steps --------------------------------------------------------------------------------
# The decision FIFO (dq, head dqh, count dqn) is threaded through as scalars: the helpers
# return the new count.

@njit(cache=True, _nrt=False)
def _decide_later(rid, RS, dq, dqh, dqn):
    """Queue a decision for resource rid if it is idle and has none queued (SimPy's _decide)."""
    rb = rid * RS_W
    if RS[U(rb + RS_IDLE)] != 0 and RS[U(rb + RS_PENDING)] == 0:
        RS[U(rb + RS_PENDING)] = 1
        R = dq.shape[0]
        q = dqh + dqn
        dq[U(q - R if q >= R else q)] = rid
        return dqn + 1
    return dqn


@njit(cache=True, _nrt=False)
def _enqueue(rid, key, RS, qh, dq, dqh, dqn, slack):
    """A request (firing or transfer) joins resource rid's ready heap.  A heap with less than
    ``slack`` free places (the most one event can push) raises the flag in RS row R: the
    loop stops before the next event and the heaps grow."""
    rb = rid * RS_W
    n = RS[U(rb + RS_QN)]
    _key_push(qh, RS[U(rb + RS_QOFF)], n, key)
    RS[U(rb + RS_QN)] = n + 1
    if n + 1 + slack > RS[U(rb + RS_QCAP)]:
        RS[U(dq.shape[0] * RS_W)] = 1
    return _decide_later(rid, RS, dq, dqh, dqn)


@njit(cache=True, _nrt=False)
def _targets(EI, eb, i, dst_trips):
    """Iterations [lo, hi) of the consumer that the producer's iteration i feeds (SimPy's targets),
    from the edge's coefficients: lo = a * i + a0, hi = b * i + b0, plus 1 at the tap iteration."""
    lo = EI[U(eb + EI_LO_I)] * i + EI[U(eb + EI_LO_0)]
    hi = EI[U(eb + EI_HI_I)] * i + EI[U(eb + EI_HI_0)] + (1 if i == EI[U(eb + EI_TAP)] else 0)
    return lo, min(hi, dst_trips)


@njit(cache=True, _nrt=False)
def _ready(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh, dq, dqh, dqn, slack):
    """One input of node dst arrived for iterations j0..j1-1 of frame f; queue what became ready."""
    nb = dst * NI_W
    b = slot * F + NI[U(nb + NI_BASE)]
    for j in range(j0, j1):
        left = st[U(b + j)] - 1
        st[U(b + j)] = left
        if left == 0:
            dqn = _enqueue(NI[U(nb + NI_UNIT)], (((f << BT) | j) << BK) | dst, RS, qh, dq, dqh, dqn, slack)
    return dqn


@njit(cache=True, _nrt=False)
def _deliver(e, f, i, slot, lt, F, BT, BK, NI, EI, ltrips, st, RS, qh, dq, dqh, dqn, slack):
    """Edge e delivered frame f's data of source iteration i (SimPy's deliver)."""
    eb = e * EI_W
    dst = EI[U(eb + EI_DST)]
    j0, j1 = _targets(EI, eb, i, ltrips[U(lt + dst)])
    return _ready(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh, dq, dqh, dqn, slack)


@njit(cache=True, _nrt=False)
def _send(e, f, i, slot, lt, F, BT, BK, NI, EI, ltrips, st, RS, qh, dq, dqh, dqn, slack):
    """Frame f's data on edge e (source iteration i) leaves its producer (SimPy's fired/request):
    nothing moves to a consumer the frame no longer needs; inside a unit it arrives at once,
    between units it asks for its link."""
    eb = e * EI_W
    dst = EI[U(eb + EI_DST)]
    j0, j1 = _targets(EI, eb, i, ltrips[U(lt + dst)])
    if j1 <= j0:
        return dqn
    rid = EI[U(eb + EI_RID)]
    if rid < 0:
        return _ready(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh, dq, dqh, dqn, slack)
    return _enqueue(rid, (((f << BT) | i) << BK) | e, RS, qh, dq, dqh, dqn, slack)


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


@njit(cache=True, _nrt=False, inline="always")
def _admit(f, now, levels, has_levels, NO, mask, F, NN, st, need0, FR, lwork, relt, S, record, rel):
    """Frame f enters at ``now``: its slot's input counters and work reset, its release noted;
    returns (slot, level table offset)."""
    slot = f & mask
    level = levels[f] if has_levels else NO - 1
    b = slot * F
    for q in range(F):
        st[U(b + q)] = need0[U(q)]
    fb = slot * FR_W
    lt = level * NN
    FR[fb + FR_LT] = lt
    FR[fb + FR_LEFT] = level + 1
    FR[fb + FR_WORK] = lwork[level]
    relt[slot] = now
    if S[S_F0DONE] == 0:
        S[S_WARMUP] += 1
    if record:
        rel[f] = now
    return slot, lt


@njit(cache=True, _nrt=False, inline="always")
def _work_done(fb, FR, S, mask):
    """One of a frame's firings or transfers ended; True when that was its last: the frame
    retires and the oldest frame in flight moves on past every retired one."""
    w = FR[U(fb + FR_WORK)] - 1
    FR[U(fb + FR_WORK)] = w
    if w != 0:
        return False
    S[S_FINISHED] += 1
    o = S[S_OLDEST]
    while o < S[S_NEXT] and FR[U((o & mask) * FR_W + FR_WORK)] == 0:
        o += 1
    S[S_OLDEST] = o
    return True


@njit(cache=True, _nrt=False)
def _outputs(f, fi, slot, now, of_ptr, of_idx, FR, relt, first, record, done, S, T, hist, hist_tot, hist_n,
             hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot, xall_n, lo, log_growth):
    """The outputs that firing fi of frame f completes (SimPy's output_done, outputs_complete)."""
    nbins = hist.shape[1]
    fb = slot * FR_W
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
        FR[fb + FR_LEFT] -= 1
        if FR[fb + FR_LEFT] == 0:
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


@njit(cache=True, _nrt=False)
def _run(P, S, G, Z, stop):
    """Run the event loop until every event is processed (DONE), ``stop`` frames have retired
    (PROGRESS), or the frame ring or a ready heap must grow first (GROW: S[S_NEED] frames in flight,
    S[S_NEEDK] frames about to be released)."""
    NI, svc, EI, etime, oe_idx, src_edges, of_ptr, of_idx, need0, ltrips, lwork, levels, srcpush, PF = G
    (ev_t, ev_r, RS, dq, qh, st, FR, relt, cnt, hist, hist_tot, hist_n, hall,
     hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot, xall_n, first, rel, done, T, tr, trf) = Z
    NU = P[P_NU]
    R = P[P_R]
    NO = P[P_NO]
    NN = P[P_NN]
    F = P[P_F]
    BT, BK = P[P_BT], P[P_BK]
    slack = P[P_SLACK]
    flag = R * RS_W
    MT_MASK, K_MASK, FS = (1 << BT) - 1, (1 << BK) - 1, BT + BK
    frames = P[P_FRAMES]
    window = P[P_WINDOW]
    is_open = P[P_OPEN] != 0
    record = P[P_RECORD] != 0
    has_levels = P[P_LEVELS] != 0
    trace_frames = P[P_TRACE]
    rate, lo, log_growth = PF[0], PF[1], PF[2]
    cap = S[S_CAP]
    mask = cap - 1  # cap is a power of two
    # Hot scalars live in locals; S and T hold them between calls.
    evn, evh, dqh, dqn = S[S_EVN], S[S_EVH], S[S_DQH], S[S_DQN]
    evm = ev_t.shape[0] - 1
    now = T[T_NOW]
    code = DONE
    while True:
        if evn > 0 and ev_t[U(evh)] == now:
            r = ev_r[U(evh)]
            evh = (evh + 1) & evm
            evn -= 1
            rb = r * RS_W
            if r < NU:
                # A firing ends.
                key = RS[U(rb + RS_KEY)]
                n, f, i = key & K_MASK, key >> FS, (key >> BK) & MT_MASK
                slot = f & mask
                fb = slot * FR_W
                RS[U(rb + RS_IDLE)] = 1
                cnt[U(n)] += 1
                lt = FR[U(fb + FR_LT)]
                ni = n * NI_W
                for q in range(NI[U(ni + NI_OE_LO)], NI[U(ni + NI_OE_HI)]):
                    dqn = _send(oe_idx[U(q)], f, i, slot, lt, F, BT, BK, NI, EI, ltrips, st, RS, qh, dq, dqh, dqn,
                                slack)
                fi = NI[U(ni + NI_BASE)] + i
                if of_ptr[U(fi + 1)] > of_ptr[U(fi)]:
                    _outputs(f, fi, slot, now, of_ptr, of_idx, FR, relt, first, record, done, S, T, hist, hist_tot,
                             hist_n, hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot, xall_n, lo,
                             log_growth)
                if _work_done(fb, FR, S, mask):
                    # Retired: the slot is free; wake the source if it waits for one.
                    if S[S_WAITING]:
                        S[S_WAITING] = 0
                        evh = _ev_insert(ev_t, ev_r, evh, evn, now, R)
                        evn += 1
                    if S[S_FINISHED] >= stop:
                        code = PROGRESS
                if RS[U(rb + RS_QN)] > 0:
                    dqn = _decide_later(r, RS, dq, dqh, dqn)
                if RS[U(flag)] != 0:  # a ready heap is nearly full: grow it before the next event
                    code = GROW
                if code != DONE:
                    break
            elif r < R:
                # A transfer ends.
                key = RS[U(rb + RS_KEY)]
                e, f, i = key & K_MASK, key >> FS, (key >> BK) & MT_MASK
                RS[U(rb + RS_IDLE)] = 1
                slot = f & mask
                if f >= S[S_OLDEST] and FR[U(slot * FR_W + FR_WORK)] != 0:
                    dqn = _deliver(e, f, i, slot, FR[U(slot * FR_W + FR_LT)], F, BT, BK, NI, EI, ltrips, st, RS,
                                   qh, dq, dqh, dqn, slack)
                # else: the frame retired before this transfer of data it did not need arrived (a
                # source edge to a node its exit level skips); SimPy raises KeyError there.
                if RS[U(rb + RS_QN)] > 0:
                    dqn = _decide_later(r, RS, dq, dqh, dqn)
                if RS[U(flag)] != 0:
                    code = GROW
                    break
            else:
                # The source runs: it releases k frames at once (SimPy's loop, whose conditions
                # nothing changes while it runs), then waits for a time or a retirement.
                k = _releases_due(S[S_NEXT], frames, S[S_FINISHED], window, is_open, rate, now)
                room = S[S_NEXT] + k - S[S_OLDEST] <= cap
                for q in range(R):
                    if RS[U(q * RS_W + RS_QN)] + k * srcpush[U(q)] + slack > RS[U(q * RS_W + RS_QCAP)]:
                        room = False
                if not room:
                    S[S_NEED] = S[S_NEXT] + k - S[S_OLDEST]
                    S[S_NEEDK] = k
                    evh = (evh - 1) & evm  # put the source's event back: it runs after the growth
                    evn += 1
                    code = GROW
                    break
                for _ in range(k):
                    f = S[S_NEXT]
                    S[S_NEXT] = f + 1
                    slot, lt = _admit(f, now, levels, has_levels, NO, mask, F, NN, st, need0, FR, lwork, relt, S,
                                      record, rel)
                    for q in range(src_edges.shape[0]):
                        # Released data moves to the consumers this frame needs (SimPy's release).
                        dqn = _send(src_edges[q], f, 0, slot, lt, F, BT, BK, NI, EI, ltrips, st, RS, qh, dq, dqh,
                                    dqn, slack)
                if S[S_NEXT] < frames:
                    if is_open:
                        wait = S[S_NEXT] / rate - now
                        evh = _ev_insert(ev_t, ev_r, evh, evn, now + wait, R)
                        evn += 1
                    else:
                        S[S_WAITING] = 1
                if RS[U(flag)] != 0:
                    code = GROW
                    break
        elif dqn > 0:
            # Decisions: each resource starts its smallest-key request if it is idle.  A
            # zero-time request ends within this instant: its end comes before the next decision.
            while dqn > 0:
                r = dq[U(dqh)]
                dqh = dqh + 1 if dqh + 1 < R else 0
                dqn -= 1
                rb = r * RS_W
                RS[U(rb + RS_PENDING)] = 0
                qn = RS[U(rb + RS_QN)]
                if RS[U(rb + RS_IDLE)] == 0 or qn == 0:
                    continue
                key = _key_pop(qh, RS[U(rb + RS_QOFF)], qn)
                RS[U(rb + RS_QN)] = qn - 1
                a = key & K_MASK
                RS[U(rb + RS_IDLE)] = 0
                RS[U(rb + RS_KEY)] = key
                if r < NU:
                    dur = svc[U(a)]
                else:
                    dur = etime[U(a)]
                    cnt[U(NN + a)] += 1
                if (key >> FS) < trace_frames:
                    _trace(tr, trf, S, 0 if r < NU else 1, r if r < NU else r - NU, a, key >> FS,
                           (key >> BK) & MT_MASK, now, dur)
                end = now + dur
                evh = _ev_insert(ev_t, ev_r, evh, evn, end, r)
                evn += 1
                if end == now:
                    break
        elif evn > 0:
            now = ev_t[U(evh)]
        else:
            break
    S[S_EVN], S[S_EVH], S[S_DQH], S[S_DQN] = evn, evh, dqh, dqn
    T[T_NOW] = now
    return code


# Python side: flat arrays in, SimResult out ----------------------------------------------------

def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    idx = np.array([x for r in rows for x in r], dtype=np.int64)
    return ptr, idx


def _static(plan: SimPlan, rate: float | None, levels: np.ndarray | None) -> dict[str, np.ndarray]:
    nn, nu = plan.n_nodes, plan.n_units
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
    NI = np.zeros((nn, NI_W), dtype=np.int64)
    NI[:, NI_UNIT], NI[:, NI_BASE], NI[:, NI_OE_LO], NI[:, NI_OE_HI] = plan.unit_of, base, oe_ptr[:-1], oe_ptr[1:]
    e_link = np.asarray(plan.e_link, dtype=np.int64)
    rid = np.where(e_link == SAME_UNIT, -1, nu + e_link)
    ne = len(e_link)
    EI = np.zeros((ne, EI_W), dtype=np.int64)
    kind = np.asarray(plan.e_kind, dtype=np.int64)
    EI[:, EI_DST], EI[:, EI_KIND], EI[:, EI_RID] = plan.e_dst, kind, rid
    # TAP edges, and INIT edges whose initial state is another loop's tensor of one iteration,
    # feed iteration 0 only when the producer is at that iteration.
    tapped = (kind == TAP) | ((kind == INIT) & (np.asarray(plan.e_tap) >= 0))
    EI[:, EI_TAP] = np.where(tapped, plan.e_tap, -1)
    big = int(trips.max(initial=1)) + 1
    coef = {PLAIN: (1, 0, 1, 1), CARRIED: (1, 1, 1, 2), INVARIANT: (0, 0, 0, big), INIT: (0, 0, 0, 1),
            TAP: (0, 0, 0, 0)}
    EI[:, EI_LO_I:EI_HI_0 + 1] = np.array([coef[TAP if t else int(k)] for k, t in zip(kind, tapped)],
                                          dtype=np.int64).reshape(-1, 4)
    lt = np.ascontiguousarray(plan.level_trips, dtype=np.int64)
    srcpush, slack = _push_bounds(plan, trips)
    pf = np.array([float(rate) if rate else 0.0, BIN_LO, math.log(BIN_GROWTH)])
    c = np.ascontiguousarray
    return dict(
        NI=NI.ravel(), svc=np.ascontiguousarray(plan.service_s, dtype=np.float64), EI=EI.ravel(),
        etime=np.ascontiguousarray(plan.e_time, dtype=np.float64), oe_idx=oe_idx,
        src_edges=np.array(src, dtype=np.int64),
        of_ptr=of_ptr, of_idx=of_idx, need0=need0, ltrips=c(lt.ravel()), lwork=lt.sum(axis=1),
        levels=np.zeros(1, dtype=np.int64) if levels is None else c(levels, dtype=np.int64), PF=pf,
        trips=trips, srcpush=srcpush, slack=slack,
    )


def _bits(n: int) -> int:
    """Bits that hold 0..n-1."""
    return max(1, int(n - 1).bit_length())


def _push_bounds(plan: SimPlan, trips: np.ndarray) -> tuple[np.ndarray, int]:
    """(pushes per release into each resource's ready heap, most pushes one event makes into one heap)."""
    nu = plan.n_units
    R = nu + len(plan.link_names)

    def target(e: int) -> tuple[int, int]:  # (heap, pushes) of one request on edge e
        dst = int(plan.e_dst[e])
        if plan.e_link[e] != SAME_UNIT:
            return nu + int(plan.e_link[e]), 1
        return int(plan.unit_of[dst]), int(trips[dst]) if plan.e_kind[e] == INVARIANT else 1

    src = np.zeros(R, dtype=np.int64)
    per_node = np.zeros((plan.n_nodes, R), dtype=np.int64)
    slack = 1
    for e, s in enumerate(plan.e_src):
        r, k = target(e)
        if s == SOURCE:
            src[r] += k
        else:
            per_node[int(s), r] += k
        slack = max(slack, int(trips[plan.e_dst[e]]))  # a transfer's arrival
    return src, max(slack, int(per_node.max(initial=1)))


def _ring(Z: dict, cap: int, F: int, dtype=np.int32) -> None:
    """Allocate the frame ring for ``cap`` frames in flight (``dtype``: the inputs' counters)."""
    Z["st"] = np.zeros(cap * F, dtype=dtype)
    Z["FR"] = np.zeros(cap * FR_W, dtype=np.int64)
    Z["relt"] = np.zeros(cap)


def _heaps(Z: dict, qcap: np.ndarray) -> None:
    """Lay the ready heaps out with capacities ``qcap``, keeping what they hold."""
    rs = Z["RS"].reshape(-1, RS_W)[:len(qcap)]
    off = np.zeros(len(qcap) + 1, dtype=np.int64)
    off[1:] = np.cumsum(qcap)
    qh = np.zeros(max(1, int(off[-1])), dtype=np.int64)
    if "qh" in Z:
        for r in range(len(qcap)):  # heap contents keep their order
            o, n = rs[r, RS_QOFF], rs[r, RS_QN]
            qh[off[r]:off[r] + n] = Z["qh"][o:o + n]
    rs[:, RS_QOFF], rs[:, RS_QCAP] = off[:-1], qcap
    Z["qh"] = qh


def _grow_ring(Z: dict, S: np.ndarray, F: int) -> None:
    """A frame ring for S[S_NEED] frames in flight (a power of two), the live frames kept."""
    cap, need = int(S[S_CAP]), int(S[S_NEED])
    if need > cap:
        new = cap
        while new < need:
            new *= 2
        old = {k: Z[k] for k in ("st", "FR", "relt")}
        _ring(Z, new, F, old["st"].dtype)
        live = np.arange(int(S[S_OLDEST]), int(S[S_NEXT]), dtype=np.int64)
        a, b = live & (cap - 1), live & (new - 1)
        Z["st"].reshape(new, F)[b] = old["st"].reshape(cap, F)[a]
        Z["FR"].reshape(new, FR_W)[b] = old["FR"].reshape(cap, FR_W)[a]
        Z["relt"][b] = old["relt"][a]
        S[S_CAP] = new


def _grow(Z: dict, S: np.ndarray, F: int, srcpush: np.ndarray, slack: int) -> None:
    """Make room: a ring for S[S_NEED] frames in flight, heaps for the next event's pushes."""
    _grow_ring(Z, S, F)
    rs = Z["RS"].reshape(-1, RS_W)
    R = len(srcpush)
    qcap = rs[:R, RS_QCAP].copy()
    want = rs[:R, RS_QN] + int(S[S_NEEDK]) * srcpush + 2 * slack
    qcap = np.where(qcap < want, np.maximum(2 * qcap, want), qcap)
    if np.any(qcap != rs[:R, RS_QCAP]):
        _heaps(Z, qcap)
    rs[R, :] = 0  # the flag
    S[S_NEED] = S[S_NEEDK] = 0


def _hist(counts: np.ndarray, total: np.ndarray, n: np.ndarray) -> LatencyHistogram:
    h = LatencyHistogram(counts.shape[0])
    h.counts, h.total, h.n = counts, total, n
    return h


def _prepare(plan: SimPlan, frames: int, rate: float | None, window: int | None, record: bool, trace_frames: int,
             levels: np.ndarray | None, s_size: int) -> tuple[dict, dict, np.ndarray, tuple]:
    """What every compiled mode shares: the plan tables, the frame ring, the statistics, the trace
    rows, the integer state; and the dimensions (units, links, outputs, nodes, firings per frame,
    key bits, window, ring capacity)."""
    if levels is not None:
        levels = np.asarray(levels)
        if len(levels) < frames or np.any((levels < 0) | (levels >= plan.n_outputs)):
            raise ValueError(f"levels must give an output index 0..{plan.n_outputs - 1} for each of {frames} frames")
    G = _static(plan, rate, levels)
    nu, nl, no, nn = plan.n_units, len(plan.link_names), plan.n_outputs, plan.n_nodes
    trips = G["trips"]
    F = int(trips.sum())
    win = None if rate else int(window or plan.window)
    # Ready-heap keys pack (f, i, n) for units and (f, i, e) for links into one int64.
    bt, bk = _bits(int(trips.max(initial=1))), max(_bits(nn), _bits(len(plan.e_src)))
    if _bits(frames) + bt + bk > 62:
        raise ValueError(f"too many frames for the compiled engine's 63-bit keys: {frames}")
    cap = 1 << _bits(win + 1) if win else 64  # a power of two: slot = f & (cap - 1)
    # Trace rows: at most every firing and every transfer of each traced frame.
    link_src = [s for s, lk in zip(plan.e_src, plan.e_link) if lk != SAME_UNIT]
    per_frame = F + sum(1 if s == SOURCE else int(trips[s]) for s in link_src)
    rows = min(max(0, trace_frames), frames) * per_frame
    Z: dict[str, np.ndarray] = dict(
        cnt=np.zeros(nn + len(plan.e_src), dtype=np.int64),  # firings per node, then transfers per edge
        first=np.full(no, np.nan), rel=np.zeros(frames if record else 1),
        done=np.full((frames, no), np.nan) if record else np.zeros((1, no)),
        T=np.array([0.0, np.inf, -np.inf, np.inf, -np.inf]),
        tr=np.zeros((max(1, rows), 5), dtype=np.int64), trf=np.zeros((max(1, rows), 2)),
    )
    for name, k in (("hist", no), ("hall", no), ("xhist", 1), ("xall", 1)):
        Z[name] = np.zeros((k, N_BINS), dtype=np.int64)
        Z[name + "_tot"] = np.zeros(k)
        Z[name + "_n"] = np.zeros(k, dtype=np.int64)
    _ring(Z, cap, F, G["need0"].dtype)
    S = np.zeros(s_size, dtype=np.int64)
    S[S_CAP] = cap
    return G, Z, S, (nu, nl, no, nn, F, bt, bk, win, cap)


# Names of the step rows of the trace (kind 2: a superstep or rollout tick, kind 3: a bsp phase).
STEP_NAMES, PHASE_NAMES = ("superstep", "tick"), ("compute", "sync", "exchange")


def _trace_list(plan: SimPlan, Z: dict, n: int) -> list:
    """The trace rows as the SimPy engines record them: (kind, resource, name, start, duration,
    frame, iteration); a step row's name is an index into STEP_NAMES or PHASE_NAMES."""
    out = []
    for (kind, res, a, f, i), (start, dur) in zip(Z["tr"][:n].tolist(), Z["trf"][:n].tolist()):
        if kind == 0:
            out.append(("unit", res, plan.node_names[a], start, dur, f, i))
        elif kind == 1:
            out.append(("link", res, plan.link_names[res], start, dur, f, i))
        elif kind == 2:
            out.append(("superstep", res, STEP_NAMES[a], start, dur, f, i))
        else:
            out.append(("phase", res, PHASE_NAMES[a], start, dur, f, i))
    return out


def _result(plan: SimPlan, frames: int, record: bool, S: np.ndarray, Z: dict, trace: list) -> SimResult:
    T = Z["T"]
    warmup, n_steady = int(S[S_WARMUP]), int(S[S_NSTEADY])
    hist, exit_hist = _hist(Z["hist"], Z["hist_tot"], Z["hist_n"]), _hist(Z["xhist"], Z["xhist_tot"], Z["xhist_n"])
    t_first, t_last = float(T[T_FIRST]), float(T[T_LAST])
    if n_steady < 2:  # too few frames for a steady state: use them all (as the SimPy engines)
        warmup, n_steady = 0, int(S[S_FINISHED])
        hist, exit_hist = _hist(Z["hall"], Z["hall_tot"], Z["hall_n"]), _hist(Z["xall"], Z["xall_tot"], Z["xall_n"])
        t_first, t_last = float(T[T_ALL_FIRST]), float(T[T_ALL_LAST])
    nn = plan.n_nodes
    return SimResult(
        frames=frames, warmup=warmup, first_latency=Z["first"], hist=hist, exit_hist=exit_hist, t_first=t_first,
        t_last=t_last, n_steady=n_steady, end_time=float(T[T_NOW]),
        **counted(plan, Z["cnt"][:nn], Z["cnt"][nn:nn + len(plan.e_src)]), release=Z["rel"] if record else None,
        done=Z["done"] if record else None, trace=trace,
    )


def simulate_fast(plan: SimPlan, frames: int, rate: float | None = None, window: int | None = None,
                  record: bool = False, progress: Callable[[int], None] | None = None,
                  levels: np.ndarray | None = None, trace_frames: int = 0) -> SimResult:
    """Asynchronous dataflow, compiled: the results of ``simulate_dataflow``, event for event.

    ``levels[f] = k - 1`` makes frame f exit early after output m_k (anytime prediction).
    """
    G, Z, S, (nu, nl, no, nn, F, bt, bk, win, cap) = _prepare(plan, frames, rate, window, record, trace_frames,
                                                             levels, S_SIZE)
    R = nu + nl
    trips = G["trips"]
    srcpush, slack = G["srcpush"], G["slack"]
    P = np.array([nu, R, no, F, nn, bt, bk, frames, win or 0, 1 if rate else 0, 1 if record else 0,
                  0 if levels is None else 1, slack, trace_frames], dtype=np.int64)
    # Ready heaps start with room for cap frames in flight: firings per unit, requests per link.
    bound = np.zeros(R, dtype=np.int64)
    bound[:nu] = np.bincount(np.asarray(plan.unit_of, dtype=np.int64), weights=trips, minlength=nu).astype(np.int64)
    for e in range(len(plan.e_src)):
        if plan.e_link[e] != SAME_UNIT:
            s = int(plan.e_src[e])
            bound[nu + plan.e_link[e]] += 1 if s == SOURCE else int(trips[s])
    RS = np.zeros((R + 1) * RS_W, dtype=np.int64)
    RS[RS_IDLE:R * RS_W:RS_W] = 1
    Z.update(ev_t=np.zeros(1 << _bits(R + 2)), ev_r=np.zeros(1 << _bits(R + 2), dtype=np.int64), RS=RS,
             dq=np.zeros(R, dtype=np.int64))
    _heaps(Z, cap * bound + 2 * slack)
    # The source starts at time 0 (SimPy's Initialize event): the one event scheduled so far.
    Z["ev_r"][0] = R
    S[S_EVN] = 1
    Gt = tuple(G[k] for k in G_NAMES)
    step = max(1, frames // 100)
    reported = 0
    while True:
        stop = int(S[S_FINISHED]) + step if progress is not None else frames + 1
        code = _run(P, S, Gt, tuple(Z[k] for k in Z_NAMES), stop)
        if code == GROW:
            _grow(Z, S, F, srcpush, slack)
            continue
        if progress is not None and int(S[S_FINISHED]) != reported:
            reported = int(S[S_FINISHED])
            progress(reported)
        if code == DONE:
            break
    if S[S_FINISHED] < frames:
        raise deadlock(frames - int(S[S_FINISHED]), frames)
    return _result(plan, frames, record, S, Z, _trace_list(plan, Z, int(S[S_TRN])))
