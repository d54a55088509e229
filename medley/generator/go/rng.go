package main

import (
	"math"
	"math/bits"
)

// rng is SplitMix64: 8 bytes of state, so every user carries its own stream and a user's
// behaviour does not depend on how the heap interleaves users (or on the end time).
type rng struct{ s uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func newRng(seed int64, stream int64) rng {
	return rng{mix64(mix64(uint64(seed)^0x6a09e667f3bcc909) + uint64(stream)*0x9e3779b97f4a7c15)}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// float64 in (0, 1], safe for log.
func (r *rng) floatPos() float64 { return float64((r.next()>>11)+1) * 0x1p-53 }

// intn in [0, n).
func (r *rng) intn(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// exponential with mean mu, as EventSim's -mu*ln(U).
func (r *rng) exp(mu float64) float64 { return -mu * math.Log(r.floatPos()) }

func (r *rng) gaussian() float64 {
	return math.Sqrt(-2*math.Log(r.floatPos())) * math.Cos(2*math.Pi*r.float())
}

// logNormal has mean 1: exp(N(0,1)) / sqrt(e), EventSim's personal scaling of alpha and beta.
func (r *rng) logNormal() float64 { return math.Exp(r.gaussian()) / math.Exp(0.5) }

// weighted picks an index with probability proportional to integer weights (cumulative form).
type weighted struct{ cum []uint64 }

func (w *weighted) add(weight uint64) { w.cum = append(w.cum, w.total()+weight) }

func (w *weighted) total() uint64 {
	if len(w.cum) == 0 {
		return 0
	}
	return w.cum[len(w.cum)-1]
}

func (w *weighted) pick(r *rng) int {
	x := r.intn(w.total())
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if w.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
