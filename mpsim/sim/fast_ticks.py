"""The compiled engine's step modes: the SimPy tick engine's bsp and rollout rules in numba.

It replays ``mpsim.sim.tick_engine.simulate_ticks`` step for step, so every SimResult field,
trace included, agrees to the last bit (docs/engines.md):

* a step releases the frames due, then runs each unit in turn (units in index order): the unit
  pops its ready heap (keys ``((f << BT | i) << BK) | n``, SimPy's (f, i, n) order), fires each
  node at most once (a node already fired this step waits for the next; once every node of the
  unit fired, the rest of its heap waits untouched), and a firing's data for a node of the same
  unit arrives at once (it may fire in this step); everything else waits for the exchange phase;
* the exchange phase moves the step's transfers, link by link back to back, in the order they
  were requested (each link's time is summed as the transfers are requested, in that order); the
  step lasts max(compute) + sync + max(exchange) (bsp) or the fixed tick (rollout); then every
  transfer of the step delivers;
* the trace, per step: the traced frames' firings, then their transfers, then the step's row and
  its phases' rows while a traced frame is in flight (the tick engine's ``superstep`` / ``phase``
  tuples, docs/engines.md step rule 6); the trace arrays hold every firing and transfer of the
  traced frames, then room for step rows, which grows.

Each firing index has two precomputed lists (``_sends``): the data it hands to its own unit and
the data it sends to others, with their target iterations, so a firing does no edge arithmetic.
The frame ring (16-bit input counters where they fit: it stays in the L1 cache), the ready heaps,
the histograms and the plan tables are the dataflow engine's (``mpsim.sim.fast_engine``); the loop
returns to Python at step boundaries only: to grow the frame ring (and the heaps with it) or the
trace's step rows, to report progress, or to say that frames can never finish.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from mpsim.sim.fast_engine import (
    DONE, EI_DST, EI_HI_0, EI_HI_I, EI_LO_0, EI_LO_I, EI_RID, EI_TAP, EI_W, FR_LT, FR_W, GROW, NI_BASE, NI_UNIT,
    NI_W, PROGRESS, RS_QN, RS_QOFF, RS_W, S_CAP, S_FINISHED, S_FIRINGS, S_NEED, S_NEXT, S_OLDEST, S_TRN, T_NOW, U,
    _admit, _grow_ring, _heaps, _key_pop, _key_push, _outputs, _prepare, _result, _ring, _trace, _trace_list,
    _work_done,
)
from mpsim.sim.plan import SOURCE, SimPlan
from mpsim.sim.result import SimResult, deadlock

# Integer state beyond the dataflow engine's: steps counted, the current step's stamp, the trace's
# step rows so far.
S_STEPS, S_SID, S_TSN = S_TRN + 1, S_TRN + 2, S_TRN + 3
S_SIZE = S_TRN + 4
# A transfer waiting for the exchange phase: edge | link << 32, frame << BT | iteration, consumer, its
# iterations lo | hi << 32.
PD_W, PD_E, PD_F, PD_DST, PD_J = 4, 0, 1, 2, 3
# What a firing hands over (_sends): to a node of its own unit (consumer, iterations lo | hi << 32), and to
# another unit (edge, consumer, link or the spare slot NL, iterations).
TH_W, TH_DST, TH_J = 2, 0, 1
TS_W, TS_E, TS_DST, TS_LK, TS_J = 4, 0, 1, 2, 3
DEADLOCK = 3  # a return code of the step loop: nothing can happen any more, frames are left
TRACE_FULL = 4  # a return code of the step loop: the trace rows must grow before the next step
STEP_ROWS = 4  # trace rows a step adds at most: the step and its three phases
# Float parameters PT[...]
PT_RATE, PT_LO, PT_LOG, PT_SYNC, PT_TICK, PT_IDLE = range(6)
# Integer parameters P[...]
(P_NU, P_NL, P_NO, P_F, P_NN, P_BT, P_BK, P_FRAMES, P_WINDOW, P_OPEN, P_RECORD, P_LEVELS, P_ROLLOUT,
 P_TRACE, P_TRFIX) = range(15)

G_NAMES = ("NI", "svc", "etime", "TH", "hp", "TS", "TSF", "sp", "of_ptr", "of_idx", "need0", "ltrips", "lwork",
           "levels", "unodes", "PT")
Z_NAMES = ("RS", "qh", "st", "FR", "relt", "stamp", "pend", "dfr", "cnt", "phase", "hist", "hist_tot",
           "hist_n", "hall", "hall_tot", "hall_n", "xhist", "xhist_tot", "xhist_n", "xall", "xall_tot", "xall_n",
           "first", "rel", "done", "T", "tr", "trf", "lacc")


@njit(cache=True, _nrt=False, inline="always")
def _arrive(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh):
    """One input of node dst arrived for iterations j0..j1-1 of frame f: what became ready joins
    its unit's heap (the tick engine's deliver)."""
    nb = dst * NI_W
    b = slot * F + NI[U(nb + NI_BASE)]
    for j in range(j0, j1):
        left = st[U(b + j)] - 1
        st[U(b + j)] = left
        if left == 0:
            rb = NI[U(nb + NI_UNIT)] * RS_W
            n = RS[U(rb + RS_QN)]
            _key_push(qh, RS[U(rb + RS_QOFF)], n, (((f << BT) | j) << BK) | dst)
            RS[U(rb + RS_QN)] = n + 1


@njit(cache=True, _nrt=False, inline="always")
def _here(q, f, slot, lt, has_levels, TH, ltrips, NI, st, RS, qh, F, BT, BK):
    """Row q of the data a firing (or a release) hands to a node of its own unit: it arrives at
    once, and what it makes ready may fire in this step."""
    dst = TH[U(q * TH_W + TH_DST)]
    j = TH[U(q * TH_W + TH_J)]
    j0, j1 = j & 0xFFFFFFFF, j >> 32
    if has_levels:
        j1 = min(j1, ltrips[U(lt + dst)])
    _arrive(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh)


@njit(cache=True, _nrt=False, inline="always")
def _send(q, f, i, lt, has_levels, TS, TSF, ltrips, pend, npend, lacc, BT):
    """Row q of the data a firing (or a release) sends to another unit: it waits for the exchange
    phase; its link's exchange time grows by the transfer's (in request order).  A transfer
    without a link (the host's) counts on the spare link slot, with time 0."""
    b = q * TS_W
    dst = TS[U(b + TS_DST)]
    j = TS[U(b + TS_J)]
    j0, j1 = j & 0xFFFFFFFF, j >> 32
    if has_levels:
        j1 = min(j1, ltrips[U(lt + dst)])
        if j1 <= j0:
            return npend
    lk = TS[U(b + TS_LK)]
    pb = npend * PD_W
    pend[U(pb + PD_E)] = TS[U(b + TS_E)] | (lk << 32)
    pend[U(pb + PD_F)] = (f << BT) | i
    pend[U(pb + PD_DST)] = dst
    pend[U(pb + PD_J)] = j0 | (j1 << 32)
    lacc[U(lk)] += TSF[U(q)]
    return npend + 1


@njit(cache=True, _nrt=False)
def _steps(P, S, G, Z, stop):
    """Run steps until every frame retired (DONE), ``stop`` frames have retired (PROGRESS), the
    frame ring must grow before the next step's releases (GROW: S[S_NEED] frames in flight), the
    trace's rows for steps are used up (TRACE_FULL), or nothing can happen any more while frames
    are left (DEADLOCK)."""
    NI, svc, etime, TH, hp, TS, TSF, sp, of_ptr, of_idx, need0, ltrips, lwork, levels, unodes, PT = G
    (RS, qh, st, FR, relt, stamp, pend, dfr, cnt, phase, hist,
     hist_tot, hist_n, hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot, xall_n, first, rel, done,
     T, tr, trf, lacc) = Z
    NU, NL, NO, F, NN = P[P_NU], P[P_NL], P[P_NO], P[P_F], P[P_NN]
    BT, BK = P[P_BT], P[P_BK]
    MT_MASK, K_MASK, FS = (1 << BT) - 1, (1 << BK) - 1, BT + BK
    frames, window = P[P_FRAMES], P[P_WINDOW]
    is_open = P[P_OPEN] != 0
    record = P[P_RECORD] != 0
    has_levels = P[P_LEVELS] != 0
    rollout = P[P_ROLLOUT] != 0
    trace_frames = P[P_TRACE]
    # The firing and transfer rows of the traced frames fit in the first P_TRFIX rows; the rest of
    # the trace's rows hold the step rows.
    step_rows = tr.shape[0] - P[P_TRFIX]
    rate, lo, log_growth = PT[PT_RATE], PT[PT_LO], PT[PT_LOG]
    sync, tick, idle = PT[PT_SYNC], PT[PT_TICK], PT[PT_IDLE]
    src = hp.shape[0] - 2  # the release's lists
    cap = S[S_CAP]
    mask = cap - 1
    now = T[T_NOW]
    firings, sid = S[S_FIRINGS], S[S_SID]
    code = DONE
    while S[S_FINISHED] < frames:
        if trace_frames > 0 and S[S_TSN] + STEP_ROWS > step_rows:
            code = TRACE_FULL
            break
        # Releases: the frames due now (an offered rate) or while fewer than `window` are in flight.
        nf = S[S_NEXT]
        if is_open:
            k = 0
            while nf + k < frames and not ((nf + k) / rate > now + 1e-15):
                k += 1
        else:
            k = max(0, min(window - (nf - S[S_FINISHED]), frames - nf))
        if nf + k - S[S_OLDEST] > cap:
            S[S_NEED] = nf + k - S[S_OLDEST]
            code = GROW
            break
        sid += 1
        npend = 0
        for _ in range(k):
            f = S[S_NEXT]
            S[S_NEXT] = f + 1
            slot, lt = _admit(f, now, levels, has_levels, NO, mask, F, NN, st, need0, FR, lwork, relt, S, record,
                              rel)
            for q in range(hp[U(src)], hp[U(src + 1)]):
                _here(q, f, slot, lt, has_levels, TH, ltrips, NI, st, RS, qh, F, BT, BK)
            for q in range(sp[U(src)], sp[U(src + 1)]):
                npend = _send(q, f, 0, lt, has_levels, TS, TSF, ltrips, pend, npend, lacc, BT)
        # Compute phase: each unit fires its ready nodes in key order, each node once.
        fired = firings
        oldest = S[S_OLDEST]  # every frame with work in this step is at least this one
        compute = 0.0
        for u in range(NU):
            rb = u * RS_W
            qn = RS[U(rb + RS_QN)]
            if qn == 0:
                continue
            ut = 0.0
            nd = 0
            todo = unodes[U(u)]  # nodes of the unit that have not fired: when none is left, the rest waits
            while qn > 0 and todo > 0:
                key = _key_pop(qh, RS[U(rb + RS_QOFF)], qn)
                qn -= 1
                RS[U(rb + RS_QN)] = qn
                n = key & K_MASK
                if stamp[U(n)] == sid:
                    dfr[U(nd)] = key
                    nd += 1
                    continue
                stamp[U(n)] = sid
                todo -= 1
                f, i = key >> FS, (key >> BK) & MT_MASK
                slot = f & mask
                fb = slot * FR_W
                dur = svc[U(n)]
                start = now + ut
                ut += dur
                cnt[U(n)] += 1
                firings += 1
                if f < trace_frames:
                    _trace(tr, trf, S, 0, u, n, f, i, start, dur)
                lt = FR[U(fb + FR_LT)]
                fi = NI[U(n * NI_W + NI_BASE)] + i
                for q in range(hp[U(fi)], hp[U(fi + 1)]):
                    _here(q, f, slot, lt, has_levels, TH, ltrips, NI, st, RS, qh, F, BT, BK)
                for q in range(sp[U(fi)], sp[U(fi + 1)]):
                    npend = _send(q, f, i, lt, has_levels, TS, TSF, ltrips, pend, npend, lacc, BT)
                if of_ptr[U(fi + 1)] > of_ptr[U(fi)]:
                    _outputs(f, fi, slot, start + dur, of_ptr, of_idx, FR, relt, first, record, done, S, T, hist,
                             hist_tot, hist_n, hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot,
                             xall_n, lo, log_growth)
                _work_done(fb, FR, S, mask)
                qn = RS[U(rb + RS_QN)]
            for q in range(nd):  # what waited for the next step goes back
                _key_push(qh, RS[U(rb + RS_QOFF)], qn, dfr[U(q)])
                qn += 1
            RS[U(rb + RS_QN)] = qn
            if ut > compute:
                compute = ut
        # Exchange phase: each link moved this step's transfers back to back (their times summed
        # in request order as they were requested); the longest link sets its length.
        exchange = 0.0
        for q in range(NL + 1):
            exchange = max(exchange, lacc[U(q)])
            lacc[U(q)] = 0.0
        step = tick if rollout else compute + sync + exchange
        if compute > 0.0 or exchange > 0.0:
            S[S_STEPS] += 1
            if rollout:
                phase[0] += step
            else:
                phase[0] += compute
                phase[1] += sync
                phase[2] += exchange
        if firings == fired and npend == 0 and (not is_open or S[S_NEXT] >= frames):
            code = DEADLOCK
            break
        if trace_frames > oldest:
            # The trace rows of this step's transfers, in request order, each starting where the
            # link's earlier transfers of the step end.
            for q in range(npend):
                pb = q * PD_W
                e, lk = pend[U(pb + PD_E)] & 0xFFFFFFFF, pend[U(pb + PD_E)] >> 32
                if lk == NL:
                    continue
                t = etime[U(e)]
                fi = pend[U(pb + PD_F)]
                if (fi >> BT) < trace_frames:
                    _trace(tr, trf, S, 1, lk, e, fi >> BT, fi & MT_MASK, now + compute + sync + lacc[U(lk)], t)
                lacc[U(lk)] += t
            for q in range(NL + 1):
                lacc[U(q)] = 0.0
        # The step's rows while a traced frame is in flight in it (the oldest at the step's start,
        # after its releases; a step that takes time has one): the step (a tick in rollout), then
        # bsp's phases.
        if (compute > 0.0 or exchange > 0.0) and oldest < trace_frames:
            k = S[S_STEPS] - 1
            _trace(tr, trf, S, 2, 0, 1 if rollout else 0, -1, k, now, step)
            S[S_TSN] += 1
            if not rollout:
                for a, start, dur in ((0, now, compute), (1, now + compute, sync),
                                      (2, now + compute + sync, exchange)):
                    if dur > 0.0:
                        _trace(tr, trf, S, 3, 1, a, -1, k, start, dur)
                        S[S_TSN] += 1
        if step <= 0.0:
            # Nothing to do: wait for the next frame of an offered rate.
            nxt = S[S_NEXT] / rate if is_open else now
            step = max(nxt - now, idle)
        now = now + step
        # The exchange ends: every transfer of the step is accounted (link busy time, bytes and
        # energy, in request order after the step's firings) and delivers.
        for q in range(npend):
            pb = q * PD_W
            cnt[U(NN + (pend[U(pb + PD_E)] & 0xFFFFFFFF))] += 1  # (an edge without a link: never read)
            f = pend[U(pb + PD_F)] >> BT
            j = pend[U(pb + PD_J)]
            _arrive(pend[U(pb + PD_DST)], j & 0xFFFFFFFF, j >> 32, f, f & mask, F, BT, BK, NI, st, RS, qh)
        if S[S_FINISHED] >= stop:
            code = PROGRESS
            break
    S[S_FIRINGS], S[S_SID] = firings, sid
    T[T_NOW] = now
    return code


def _sends(plan: SimPlan, G: dict, nu: int, nl: int) -> None:
    """What each firing hands over, row by row: per firing index (node base + iteration; then one
    list for a release) the out edges whose targets at the full exit level are not empty, with
    those targets, split into data for a node of the firing's own unit (TH, CSR hp: it arrives at
    once) and data for other units (TS, CSR sp: with the exchange; TSF its link time, 0 without
    a link), each in edge order.  An early exit only cuts a target range (to the level's trips),
    so an edge left out here is empty at every level."""
    EI = G["EI"].reshape(-1, EI_W)
    trips = G["trips"]
    unit_of = np.asarray(plan.unit_of)
    out_edges: list[list[int]] = [[] for _ in range(plan.n_nodes)]
    src_edges = []
    for e, s in enumerate(plan.e_src):
        (src_edges if s == SOURCE else out_edges[int(s)]).append(e)
    here: list[tuple[int, int]] = []
    send: list[tuple[int, int, int, int]] = []
    hp, sp = [0], [0]

    def add(edges: list[int], i: int, unit: int) -> None:
        for e in edges:
            r = EI[e]
            dst = int(r[EI_DST])
            lo = int(r[EI_LO_I]) * i + int(r[EI_LO_0])
            hi = min(int(r[EI_HI_I]) * i + int(r[EI_HI_0]) + (1 if i == r[EI_TAP] else 0), int(trips[dst]))
            if hi <= lo:
                continue
            if r[EI_RID] < 0 and (unit < 0 or unit_of[dst] == unit):  # a release's data for the host is here too
                here.append((dst, lo | (hi << 32)))
            else:
                send.append((e, dst, int(r[EI_RID]) - nu if r[EI_RID] >= 0 else nl, lo | (hi << 32)))
        hp.append(len(here))
        sp.append(len(send))

    for n in range(plan.n_nodes):
        for i in range(int(trips[n])):
            add(out_edges[n], i, int(unit_of[n]))
    add(src_edges, 0, -1)
    TH = np.array(here, dtype=np.int64).reshape(-1, TH_W)
    TS = np.array(send, dtype=np.int64).reshape(-1, TS_W)
    G["TH"], G["hp"] = np.ascontiguousarray(TH.ravel()), np.array(hp, dtype=np.int64)
    G["TS"], G["sp"] = np.ascontiguousarray(TS.ravel()), np.array(sp, dtype=np.int64)
    G["TSF"] = np.where(TS[:, TS_LK] < nl, G["etime"][TS[:, TS_E]], 0.0)


def _step_room(rows: int) -> int:
    """Trace rows first set aside for steps beside ``rows`` for firings and transfers: a first
    guess (a step of a traced frame mostly fires or moves some of its data); they grow when used up."""
    return STEP_ROWS * (rows + 16)


def _grow_trace(Z: dict, rows: int) -> None:
    """Trace arrays of ``rows`` rows, the rows written so far kept."""
    for name in ("tr", "trf"):
        old = Z[name]
        Z[name] = np.zeros((rows, old.shape[1]), dtype=old.dtype)
        Z[name][:len(old)] = old


def simulate_ticks_fast(plan: SimPlan, mode: str, frames: int, rate: float | None, window: int | None = None,
                        record: bool = False, trace_frames: int = 0, progress: Callable[[int], None] | None = None,
                        levels: np.ndarray | None = None, idle_step_s: float = 1e-9) -> SimResult:
    """bsp or rollout, compiled: the results of ``simulate_ticks``, step for step.

    ``idle_step_s`` is how far time moves when a step has nothing to do (the profile's cycle).
    """
    from mpsim.sim.tick_engine import rollout_tick

    if mode not in ("bsp", "rollout"):
        raise ValueError(f"the step engine runs bsp or rollout, not {mode}")
    G, Z, S, dims = _prepare(plan, frames, rate, window, record, trace_frames, levels, S_SIZE)
    nu, nl, no, nn, F, bt, bk, win, cap = dims
    rollout = mode == "rollout"
    P = np.array([nu, nl, no, F, nn, bt, bk, frames, win or 0, 1 if rate else 0, 1 if record else 0,
                  0 if levels is None else 1, 1 if rollout else 0, trace_frames, len(Z["tr"])], dtype=np.int64)
    if trace_frames > 0:  # room for step rows after the firings' and transfers' (grown when used up)
        _grow_trace(Z, len(Z["tr"]) + _step_room(len(Z["tr"])))
    G["PT"] = np.array([float(rate) if rate else 0.0, G["PF"][1], G["PF"][2], 0.0 if rollout else plan.sync_s,
                        rollout_tick(plan) if rollout else 0.0, idle_step_s])
    if G["need0"].max(initial=0) < 2 ** 15:  # 16-bit input counters: the frame ring stays in the L1 cache
        G["need0"] = G["need0"].astype(np.int16)
        _ring(Z, cap, F, np.int16)
    unit_of = np.asarray(plan.unit_of)
    G["unodes"] = np.bincount(unit_of, minlength=nu).astype(np.int64)
    # Ready heaps: unit u holds at most (frames in flight) x (its firings per frame).
    per_frame = np.bincount(unit_of, weights=G["trips"], minlength=nu).astype(np.int64)
    Z["RS"] = np.zeros((nu + 1) * RS_W, dtype=np.int64)
    Z["stamp"] = np.zeros(nn, dtype=np.int64)
    _sends(plan, G, nu, nl)
    # Per link (and the spare slot nl): the exchange time of the step.
    Z["lacc"], Z["phase"] = np.zeros(nl + 1), np.zeros(3)
    n_src = int(G["sp"][-1] - G["sp"][-2])
    sends = int(np.max(np.diff(G["sp"][:-1]), initial=0))

    def lay_out(c: int) -> None:
        """Heaps, the waiting list and the transfers of a step for c frames in flight: a step fires
        each node at most once (each sends at most its longest send list) and releases at most c."""
        _heaps(Z, c * per_frame + 1)
        Z["dfr"] = np.zeros(max(1, int(c * per_frame.max(initial=1))), dtype=np.int64)
        Z["pend"] = np.zeros(PD_W * (nn * sends + c * n_src + 1), dtype=np.int64)

    lay_out(cap)
    Gt = tuple(G[k] for k in G_NAMES)
    step = max(1, frames // 100)
    reported = 0
    while True:
        stop = int(S[S_FINISHED]) + step if progress is not None else frames + 1
        code = _steps(P, S, Gt, tuple(Z[k] for k in Z_NAMES), stop)
        if code == GROW:
            _grow_ring(Z, S, F)
            lay_out(int(S[S_CAP]))
            continue
        if code == TRACE_FULL:
            _grow_trace(Z, 2 * len(Z["tr"]))
            continue
        if progress is not None and int(S[S_FINISHED]) != reported:
            reported = int(S[S_FINISHED])
            progress(reported)
        if code == DEADLOCK:
            raise deadlock(frames - int(S[S_FINISHED]), frames)
        if code == DONE:
            break
    r = _result(plan, frames, record, S, Z, _trace_list(plan, Z, int(S[S_TRN])))
    r.steps = int(S[S_STEPS])
    r.phase_s = Z["phase"]
    return r
