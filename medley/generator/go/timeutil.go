package main

import (
	"math"
	"time"
)

const (
	secondsPerDay  = 86400
	secondsPerYear = secondsPerDay * 365.25
	threeAM        = 3 * 3600
)

// usHoliday reports the US federal holidays EventSim's holiday calendar (jollyday, US) knows:
// fixed dates on the day itself, the others by their weekday rule.
func usHoliday(t time.Time) bool {
	m, d, wd := t.Month(), t.Day(), t.Weekday()
	nth := (d-1)/7 + 1
	last := d+7 > daysIn(t)
	switch {
	case m == time.January && d == 1, m == time.July && d == 4,
		m == time.November && d == 11, m == time.December && d == 25:
		return true
	case m == time.January && wd == time.Monday && nth == 3, // Martin Luther King Jr. Day
		m == time.February && wd == time.Monday && nth == 3,   // Washington's Birthday
		m == time.May && wd == time.Monday && last,            // Memorial Day
		m == time.September && wd == time.Monday && nth == 1,  // Labor Day
		m == time.October && wd == time.Monday && nth == 2,    // Columbus Day
		m == time.November && wd == time.Thursday && nth == 4: // Thanksgiving
		return true
	}
	return false
}

func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

type calendar struct {
	cache map[int64]bool // day number -> weekend or holiday
}

func (c *calendar) offDay(sec int64) bool {
	day := floorDiv(sec, secondsPerDay)
	if v, ok := c.cache[day]; ok {
		return v
	}
	t := time.Unix(day*secondsPerDay, 0).UTC()
	v := t.Weekday() == time.Saturday || t.Weekday() == time.Sunday || usHoliday(t)
	c.cache[day] = v
	return v
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// weekendDamping is EventSim's share of sessions dropped at time ts: 0 on working days, the
// configured damping on weekends and holidays, with linear ramps of `scale` minutes that start
// `offset` minutes before midnight into an off day and end `offset` minutes after it.
func (s *sim) weekendDamping(ts int64) float64 {
	wd, off, scale := s.cfg.WeekendDamping, float64(s.cfg.WeekendDampingOffset*60), float64(s.cfg.WeekendDampingScale)
	lastMidnight := floorDiv(ts, secondsPerDay) * secondsPerDay
	noon := lastMidnight + secondsPerDay/2
	nextMidnight := lastMidnight + secondsPerDay
	y, n, t := s.cal.offDay(noon-secondsPerDay), s.cal.offDay(noon), s.cal.offDay(noon+secondsPerDay)
	ramp := func(from, to int64) float64 { return wd * float64(to-from) / 60 / scale }
	ft := float64(ts)
	switch {
	case !y && !n && !t:
		return 0
	case y && n && t:
		return wd
	case !y && !n && t:
		start := float64(nextMidnight) - off
		if ft < start {
			return 0
		}
		return ramp(int64(start), ts)
	case y && !n && !t:
		end := float64(lastMidnight) + off
		if ft > end {
			return 0
		}
		return ramp(ts, int64(end))
	case !y && n && !t:
		rampStart := float64(lastMidnight) - off
		rampEnd := rampStart + scale*60
		downEnd := float64(nextMidnight) + off
		downStart := downEnd - scale*60
		if ft < rampEnd {
			return ramp(int64(rampStart), ts)
		} else if ft > downStart {
			return ramp(ts, int64(downEnd))
		}
		return wd
	case !y && n && t:
		rampStart := float64(lastMidnight) - off
		if ft < rampStart+scale*60 {
			return ramp(int64(rampStart), ts)
		}
		return wd
	case y && !n && t:
		end := float64(lastMidnight) + off
		start := float64(nextMidnight) - off
		if ft < end {
			return ramp(ts, int64(end))
		} else if ft > start {
			return ramp(int64(start), ts)
		}
		return 0
	default: // y && n && !t
		downEnd := float64(nextMidnight) + off
		if ft > downEnd-scale*60 {
			return ramp(ts, int64(downEnd))
		}
		return wd
	}
}

// warp moves a time along EventSim's daily cycle (a sine with its zero at 3 AM UTC).
func (s *sim) warp(ts int64) int64 {
	sod := float64(ts - floorDiv(ts, secondsPerDay)*secondsPerDay)
	return ts + int64(s.cfg.Damping*secondsPerDay*math.Sin((sod-threeAM)*2*math.Pi/secondsPerDay))
}

// nextSessionStart: exponential gap (personal beta) plus the session gap, warped to the daily
// cycle, thinned on weekends and holidays (a rejected date is retried from itself).
func (s *sim) nextSessionStart(r *rng, last int64, beta float64) int64 {
	for {
		gap := int64(r.exp(beta)) + s.cfg.SessionGap
		next := s.warp(last + gap)
		if next < last {
			last += s.cfg.SessionGap
			continue
		}
		if d := s.weekendDamping(next); d > 0 && r.float() >= 1-d {
			last = next
			continue
		}
		return next
	}
}

// firstSessionStart starts two personal betas early and iterates towards a steady state, so
// some sessions are already running when the window opens.
func (s *sim) firstSessionStart(r *rng, start int64, beta float64) int64 {
	c := s.nextSessionStart(r, start-2*int64(beta), beta)
	for c < start-int64(beta) {
		c = s.nextSessionStart(r, c, beta)
	}
	return c
}
