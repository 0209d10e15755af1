"""The compiled engine's step modes: the SimPy tick engine's bsp and rollout rules in numba.

It replays ``mpsim.sim.tick_engine.simulate_ticks`` step for step, with the same float
operations in the same order, so every SimResult field agrees to the last bit (docs/engines.md):

* a step releases the frames due, then runs each unit in turn (units in index order): the unit
  pops its ready heap (keys ``((f << BT | i) << BK) | n``, SimPy's (f, i, n) order), fires each
  node at most once (a node already fired this step waits for the next), and a firing's data for
  a node of the same unit inside it arrives at once (it may fire in this step); everything else
  waits for the exchange phase;
* the exchange phase moves the step's transfers, link by link back to back, in the order they
  were requested; the step lasts max(compute) + sync + max(exchange) (bsp) or the fixed tick
  (rollout); then every transfer of the step delivers.

The frame ring, the ready heaps, the histograms and the plan tables are the dataflow engine's
(``mpsim.sim.fast_engine``); the loop returns to Python at step boundaries only: to grow the frame
ring (and the heaps with it) or to report progress.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numba import njit

from mpsim.sim.fast_engine import (
    DONE, EF_BYTES, EF_EMOVE, EF_TIME, EF_W, EI_DST, EI_RID, EI_W, FR_LEFT, FR_LT, FR_W, FR_WORK, GROW,
    NF_ECOMP, NF_ECONV, NF_EMOVE, NF_LOCAL, NF_OFFCHIP, NF_SERVICE, NF_W, NI_BASE, NI_OE_HI, NI_OE_LO, NI_UNIT,
    NI_W, PROGRESS, RS_QCAP, RS_QN, RS_QOFF, RS_W, S_CAP, S_F0DONE, S_FINISHED, S_FIRINGS, S_NEED, S_NEXT,
    S_OLDEST, S_TRN, S_WARMUP, T_ECOMP, T_ECONV, T_EMOVE, T_LOCAL, T_NOW, T_OFFCHIP, U, _bits, _grow_ring, _heaps,
    _key_pop, _key_push, _outputs, _prepare, _result, _targets, _trace, _trace_list,
)
from mpsim.sim.plan import SimPlan
from mpsim.sim.result import SimResult, deadlock

# Integer state beyond the dataflow engine's: steps counted, the current step's stamp.
S_STEPS, S_SID = S_TRN + 1, S_TRN + 2
S_SIZE = S_TRN + 3
DEADLOCK = 3  # a return code of the step loop: nothing can happen any more, frames are left
# Float parameters PT[...]
PT_RATE, PT_LO, PT_LOG, PT_SYNC, PT_TICK, PT_IDLE = range(6)
# Integer parameters P[...]
(P_NU, P_NL, P_NO, P_F, P_NN, P_BT, P_BK, P_FRAMES, P_WINDOW, P_OPEN, P_RECORD, P_LEVELS, P_ROLLOUT,
 P_TRACE) = range(14)

G_NAMES = ("NI", "NF", "EI", "EF", "oe_idx", "src_edges", "of_ptr", "of_idx", "need0", "ltrips", "lwork",
           "levels", "here", "unodes", "PT")
Z_NAMES = ("RS", "qh", "st", "FR", "relt", "stamp", "pend", "dfr", "unit_time", "link_time", "busy", "node_busy",
           "link_bytes", "phase", "hist", "hist_tot", "hist_n", "hall", "hall_tot", "hall_n", "xhist", "xhist_tot",
           "xhist_n", "xall", "xall_tot", "xall_n", "first", "rel", "done", "T", "tr", "trf")


@njit(cache=True, _nrt=False)
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


@njit(cache=True, _nrt=False)
def _steps(P, S, G, Z, stop):
    """Run steps until every frame retired (DONE), ``stop`` frames have retired (PROGRESS), or the
    frame ring must grow before the next step's releases (GROW: S[S_NEED] frames in flight)."""
    NI, NF, EI, EF, oe_idx, src_edges, of_ptr, of_idx, need0, ltrips, lwork, levels, here, unodes, PT = G
    (RS, qh, st, FR, relt, stamp, pend, dfr, unit_time, link_time, busy, node_busy, link_bytes, phase, hist,
     hist_tot, hist_n, hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot, xall_n, first, rel, done,
     T, tr, trf) = Z
    NU, NL, NO, F, NN = P[P_NU], P[P_NL], P[P_NO], P[P_F], P[P_NN]
    BT, BK = P[P_BT], P[P_BK]
    MT_MASK, K_MASK, FS = (1 << BT) - 1, (1 << BK) - 1, BT + BK
    frames, window = P[P_FRAMES], P[P_WINDOW]
    is_open = P[P_OPEN] != 0
    record = P[P_RECORD] != 0
    has_levels = P[P_LEVELS] != 0
    rollout = P[P_ROLLOUT] != 0
    trace_frames = P[P_TRACE]
    rate, lo, log_growth = PT[PT_RATE], PT[PT_LO], PT[PT_LOG]
    sync, tick, idle = PT[PT_SYNC], PT[PT_TICK], PT[PT_IDLE]
    cap = S[S_CAP]
    mask = cap - 1
    now = T[T_NOW]
    e_local, e_offchip, e_comp, e_conv, e_move = T[T_LOCAL], T[T_OFFCHIP], T[T_ECOMP], T[T_ECONV], T[T_EMOVE]
    firings, sid = S[S_FIRINGS], S[S_SID]
    code = DONE
    while S[S_FINISHED] < frames:
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
        npend = 0
        for _ in range(k):
            f = S[S_NEXT]
            S[S_NEXT] = f + 1
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
            for q in range(src_edges.shape[0]):
                e = src_edges[q]
                eb = e * EI_W
                dst = EI[U(eb + EI_DST)]
                j0, j1 = _targets(EI, eb, 0, ltrips[U(lt + dst)])
                if j1 <= j0:
                    continue
                if EI[U(eb + EI_RID)] < 0:
                    _arrive(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh)
                else:
                    pend[U(npend)] = ((f << BT) << BK) | e
                    npend += 1
        # Compute phase: each unit fires its ready nodes in key order, each node once.
        sid += 1
        fired = firings
        compute = 0.0
        for u in range(NU):
            rb = u * RS_W
            ut = 0.0
            qn = RS[U(rb + RS_QN)]
            nd = 0
            todo = unodes[U(u)]  # nodes of the unit that have not fired: when none is left, the rest waits
            while qn > 0 and todo > 0:
                key = _key_pop(qh, RS[U(rb + RS_QOFF)], qn)
                RS[U(rb + RS_QN)] = qn - 1
                n = key & K_MASK
                if stamp[U(n)] == sid:
                    dfr[U(nd)] = key
                    nd += 1
                    qn -= 1
                    continue
                stamp[U(n)] = sid
                todo -= 1
                f, i = key >> FS, (key >> BK) & MT_MASK
                slot = f & mask
                fb = slot * FR_W
                nb = n * NF_W
                dur = NF[U(nb + NF_SERVICE)]
                start = now + ut
                ut += dur
                busy[U(u)] += dur
                node_busy[U(n)] += dur
                e_local += NF[U(nb + NF_LOCAL)]
                e_offchip += NF[U(nb + NF_OFFCHIP)]
                e_comp += NF[U(nb + NF_ECOMP)]
                e_conv += NF[U(nb + NF_ECONV)]
                e_move += NF[U(nb + NF_EMOVE)]
                firings += 1
                if f < trace_frames:
                    _trace(tr, trf, S, 0, u, n, f, i, start, dur)
                lt = FR[U(fb + FR_LT)]
                ni = n * NI_W
                for q in range(NI[U(ni + NI_OE_LO)], NI[U(ni + NI_OE_HI)]):
                    e = oe_idx[U(q)]
                    eb = e * EI_W
                    dst = EI[U(eb + EI_DST)]
                    j0, j1 = _targets(EI, eb, i, ltrips[U(lt + dst)])
                    if j1 <= j0:
                        continue
                    if here[U(e)] != 0:
                        _arrive(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh)
                    else:
                        pend[U(npend)] = (((f << BT) | i) << BK) | e
                        npend += 1
                fi = NI[U(ni + NI_BASE)] + i
                if of_ptr[U(fi + 1)] > of_ptr[U(fi)]:
                    _outputs(f, fi, slot, start + dur, of_ptr, of_idx, FR, relt, first, record, done, S, T, hist,
                             hist_tot, hist_n, hall, hall_tot, hall_n, xhist, xhist_tot, xhist_n, xall, xall_tot,
                             xall_n, lo, log_growth)
                w = FR[U(fb + FR_WORK)] - 1
                FR[U(fb + FR_WORK)] = w
                if w == 0:
                    S[S_FINISHED] += 1
                    o = S[S_OLDEST]
                    while o < S[S_NEXT] and FR[U((o & mask) * FR_W + FR_WORK)] == 0:
                        o += 1
                    S[S_OLDEST] = o
                qn = RS[U(rb + RS_QN)]
            for q in range(nd):  # what waited for the next step goes back
                _key_push(qh, RS[U(rb + RS_QOFF)], qn, dfr[U(q)])
                qn += 1
            RS[U(rb + RS_QN)] = qn
            unit_time[U(u)] = ut
            if ut > compute:
                compute = ut
        # Exchange phase: each link moves this step's transfers back to back.
        for q in range(NL):
            link_time[U(q)] = 0.0
        for q in range(npend):
            key = pend[U(q)]
            e = key & K_MASK
            rid = EI[U(e * EI_W + EI_RID)]
            if rid < 0:
                continue  # to another unit without a link (the host's): arrives with the exchange
            lk = rid - NU
            eb = e * EF_W
            t = EF[U(eb + EF_TIME)]
            f = key >> FS
            if f < trace_frames:
                _trace(tr, trf, S, 1, lk, e, f, (key >> BK) & MT_MASK, now + compute + sync + link_time[U(lk)], t)
            link_time[U(lk)] += t
            busy[U(rid)] += t
            link_bytes[U(lk)] += EF[U(eb + EF_BYTES)]
            e_move += EF[U(eb + EF_EMOVE)]
        exchange = 0.0
        for q in range(NL):
            if link_time[U(q)] > exchange:
                exchange = link_time[U(q)]
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
        if step <= 0.0:
            # Nothing to do: wait for the next frame of an offered rate.
            nxt = S[S_NEXT] / rate if is_open else now
            step = max(nxt - now, idle)
        now = now + step
        for q in range(npend):
            key = pend[U(q)]
            e = key & K_MASK
            f, i = key >> FS, (key >> BK) & MT_MASK
            slot = f & mask
            eb = e * EI_W
            dst = EI[U(eb + EI_DST)]
            j0, j1 = _targets(EI, eb, i, ltrips[U(FR[U(slot * FR_W + FR_LT)] + dst)])
            _arrive(dst, j0, j1, f, slot, F, BT, BK, NI, st, RS, qh)
        if S[S_FINISHED] >= stop:
            code = PROGRESS
            break
    S[S_FIRINGS], S[S_SID] = firings, sid
    T[T_NOW] = now
    T[T_LOCAL], T[T_OFFCHIP], T[T_ECOMP], T[T_ECONV], T[T_EMOVE] = e_local, e_offchip, e_comp, e_conv, e_move
    return code


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
                  0 if levels is None else 1, 1 if rollout else 0, trace_frames], dtype=np.int64)
    G["PT"] = np.array([float(rate) if rate else 0.0, G["PF"][1], G["PF"][2], 0.0 if rollout else plan.sync_s,
                        rollout_tick(plan) if rollout else 0.0, idle_step_s])
    e_link = np.asarray(plan.e_link)
    src = np.asarray(plan.e_src)
    unit_of = np.asarray(plan.unit_of)
    G["here"] = ((G["EI"].reshape(-1, EI_W)[:, EI_RID] < 0) & (src >= 0)
                 & (unit_of[np.maximum(src, 0)] == unit_of[np.asarray(plan.e_dst)])).astype(np.int64)
    del e_link
    G["unodes"] = np.bincount(unit_of, minlength=nu).astype(np.int64)
    # Ready heaps: unit u holds at most (frames in flight) x (its firings per frame).
    per_frame = np.bincount(unit_of, weights=G["trips"], minlength=nu).astype(np.int64)
    Z["RS"] = np.zeros((nu + 1) * RS_W, dtype=np.int64)
    Z["stamp"] = np.zeros(nn, dtype=np.int64)
    Z["unit_time"], Z["link_time"], Z["phase"] = np.zeros(nu), np.zeros(nl), np.zeros(3)
    n_src = len(G["src_edges"])

    def lay_out(c: int) -> None:
        _heaps(Z, c * per_frame + 1)
        Z["dfr"] = np.zeros(max(1, int(c * per_frame.max(initial=1))), dtype=np.int64)
        Z["pend"] = np.zeros(len(plan.e_src) + c * n_src + 1, dtype=np.int64)

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
