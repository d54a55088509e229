package main

import (
	"math"
	"strconv"
	"time"
)

type user struct {
	r       rng
	id      int64
	alpha   float64 // personal mean gap between events (s)
	beta    float64 // personal mean gap between sessions (s)
	ts      int64   // time of the pending event (s)
	songEnd int64
	reg     int64 // registration (ms)
	session int64
	item    int32
	st      int32
	prev    int32 // previous state in this session, -1 at its start
	song    int32 // -1 while no song has played in this session
	place   int32
	metro   int32
	first   int32
	last    int32
	agent   int32
	active  bool
}

// entry orders the heap by pending event time, then by slot, so ties resolve the same way
// in every run.
type entry struct {
	ts  int64
	idx int32
}

type minHeap []entry

func (h minHeap) less(i, j int) bool {
	return h[i].ts < h[j].ts || (h[i].ts == h[j].ts && h[i].idx < h[j].idx)
}

func (h *minHeap) push(e entry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h minHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h *minHeap) pop() {
	a := *h
	n := len(a) - 1
	a[0] = a[n]
	*h = a[:n]
	(*h).down(0)
}

type sessionStart struct {
	states []int32
	w      weighted
}

type stats struct {
	Events      int64            `json:"events"`
	Lines       map[string]int64 `json:"lines"`
	Users       int64            `json:"users"`
	GrowthUsers int64            `json:"growth_users"`
	Cancelled   int64            `json:"cancelled"`
	Attrited    int64            `json:"attrited"`
	Sessions    int64            `json:"sessions"`
	ActiveAtEnd int64            `json:"active_at_end"`
	FirstTs     int64            `json:"first_ts"`
	LastTs      int64            `json:"last_ts"`
}

type sim struct {
	cfg        *simConfig
	states     []state
	starts     map[[2]string]*sessionStart
	levelW     weighted
	authW      weighted
	ref        *reference
	cal        calendar
	users      []user
	free       []int32
	h          minHeap
	seed       int64
	startS     int64
	endS       int64
	noEnd      bool
	msRem      int64
	growth     float64
	attrition  float64
	tag        []byte // ,"tag":"..." or empty
	interana   bool
	continuous bool
	nUsers     int64
	nextSess   int64
	nextUser   int64
	active     int64
	arr        rng
	nextArr    int64
	out        sink
	buf        []byte
	st         stats
}

const (
	pageView = iota
	listen
	auth
	statusChange
)

func (s *sim) startSession(u *user, auth, level string) bool {
	ss := s.starts[[2]string{auth, level}]
	if ss == nil { // the config has no way to start a session for this user: they leave
		return false
	}
	u.st = ss.states[ss.w.pick(&u.r)]
	s.nextSess++
	s.st.Sessions++
	u.session = s.nextSess
	u.item = 0
	u.prev = -1
	u.song = -1
	if s.states[u.st].song {
		u.song = int32(s.ref.songW.pick(&u.r))
		u.songEnd = u.ts + s.ref.songs[u.song].duration
	}
	return true
}

// registrationAge: how long before the start an initial user registered, capped at 5 years.
// EventSim draws it with mean growthRate*year (inverted); Medley uses 1/growthRate years, or one
// year without growth.
func (s *sim) registrationAge(r *rng) int64 {
	mean := secondsPerYear
	if s.growth > 0 {
		mean = secondsPerYear / s.growth
	}
	return int64(math.Min(r.exp(mean), 5*secondsPerYear))
}

func (s *sim) newUser(initial bool, arrival int64) {
	s.nextUser++
	u := user{id: s.nextUser, r: newRng(s.seed, s.nextUser), active: true}
	u.alpha = s.cfg.Alpha * u.r.logNormal()
	u.beta = s.cfg.Beta * u.r.logNormal()
	u.place = int32(u.r.intn(uint64(len(s.ref.places))))
	u.agent = int32(s.ref.agentW.pick(&u.r))
	u.first = int32(s.ref.firstW.pick(&u.r))
	u.last = int32(s.ref.lastW.pick(&u.r))
	u.metro = int32(s.ref.metroW.pick(&u.r))
	var auth, level string
	if initial {
		auth = s.cfg.Auths[s.authW.pick(&u.r)].Auth
		level = s.cfg.Levels[s.levelW.pick(&u.r)].Level
		u.reg = (s.startS-s.registrationAge(&u.r))*1000 + s.msRem
		u.ts = s.firstSessionStart(&u.r, s.startS, u.beta)
	} else {
		auth, level = s.cfg.NewUserAuth, s.cfg.NewUserLevel
		u.reg = arrival*1000 + s.msRem
		u.ts = arrival
		s.st.GrowthUsers++
	}
	s.st.Users++
	s.active++
	if !s.startSession(&u, auth, level) {
		s.leave(&u)
	}
	// Sessions that began before the window are simulated silently up to its start.
	for u.active && u.ts < s.startS {
		s.advance(&u)
	}
	if !u.active {
		return
	}
	var idx int32
	if n := len(s.free); n > 0 {
		idx = s.free[n-1]
		s.free = s.free[:n-1]
		s.users[idx] = u
	} else {
		idx = int32(len(s.users))
		s.users = append(s.users, u)
	}
	s.h.push(entry{u.ts, idx})
}

func (s *sim) leave(u *user) {
	u.active = false
	s.active--
}

// advance moves a user to their next event: the next page of the session (timing rules of
// EventSim's Session.incrementEvent) or, when the session ends, the start of the next one.
func (s *sim) advance(u *user) {
	cur := &s.states[u.st]
	x := u.r.float()
	next := int32(-1)
	for _, t := range cur.trans {
		if x < t.upper {
			next = t.dest
			break
		}
	}
	if next < 0 {
		s.endSession(u, cur)
		return
	}
	ns := &s.states[next]
	switch {
	case ns.redirect:
		u.ts++
	case ns.song:
		if u.song >= 0 && u.ts < u.songEnd {
			u.ts = u.songEnd // the previous song plays to its end
		} else {
			u.ts += int64(u.r.exp(u.alpha))
		}
		u.song = int32(s.ref.songW.pick(&u.r))
		u.songEnd = u.ts + s.ref.songs[u.song].duration
	default:
		u.ts += int64(u.r.exp(u.alpha))
	}
	u.prev = u.st
	u.st = next
	u.item++
}

func (s *sim) endSession(u *user, last *state) {
	if last.churned {
		s.st.Cancelled++
		s.leave(u)
		return
	}
	// --attrition-rate r: a constant hazard under which a share r of the users active at the
	// start of a year has left by its end; drawn once per session inside the window.
	if s.attrition > 0 && u.ts >= s.startS {
		years := (u.beta + float64(s.cfg.SessionGap)) / secondsPerYear
		if u.r.float() < 1-math.Pow(1-s.attrition, years) {
			s.st.Attrited++
			s.leave(u)
			return
		}
	}
	u.ts = s.nextSessionStart(&u.r, u.ts, u.beta)
	if !s.startSession(u, last.Auth, last.Level) {
		s.leave(u)
	}
}

func (s *sim) scheduleArrival(from int64) {
	if s.active <= 0 {
		s.nextArr = math.MaxInt64
		return
	}
	s.nextArr = from + int64(s.arr.exp(secondsPerYear/(float64(s.active)*s.growth)))
}

func (s *sim) run() error {
	s.users = make([]user, 0, s.nUsers)
	for i := int64(0); i < s.nUsers; i++ {
		s.newUser(true, 0)
	}
	s.nextArr = math.MaxInt64
	if s.growth > 0 {
		s.scheduleArrival(s.startS)
	}
	for {
		for s.nextArr != math.MaxInt64 && (s.noEnd || s.nextArr < s.endS) &&
			(len(s.h) == 0 || s.nextArr <= s.h[0].ts) {
			at := s.nextArr
			s.newUser(false, at)
			s.scheduleArrival(at)
		}
		if len(s.h) == 0 {
			break
		}
		e := s.h[0]
		if !s.noEnd && e.ts >= s.endS {
			break
		}
		u := &s.users[e.idx]
		if err := s.emit(u); err != nil {
			return err
		}
		s.advance(u)
		if u.active {
			s.h[0].ts = u.ts
			s.h.down(0)
		} else {
			s.h.pop()
			s.free = append(s.free, e.idx)
		}
	}
	s.st.ActiveAtEnd = s.active
	if s.continuous && !s.noEnd { // a paced run lasts until its end time
		if err := s.pace(s.endS*1000 + s.msRem); err != nil {
			return err
		}
	}
	return s.out.close()
}

// pace holds an event back until the wall clock reaches it (--continuous).
func (s *sim) pace(tsMs int64) error {
	wait := time.Until(time.UnixMilli(tsMs))
	if wait <= 0 {
		return nil
	}
	if err := s.out.flush(); err != nil {
		return err
	}
	time.Sleep(wait)
	return nil
}

func (s *sim) emit(u *user) error {
	st := &s.states[u.st]
	tsMs := u.ts*1000 + s.msRem
	if err := s.out.tick(u.ts); err != nil {
		return err
	}
	if s.continuous {
		if err := s.pace(tsMs); err != nil {
			return err
		}
	}
	if s.st.Events == 0 {
		s.st.FirstTs = tsMs
	}
	s.st.LastTs = tsMs
	s.st.Events++
	if s.interana {
		return s.out.line(0, u.ts, s.interanaLine(u, st, tsMs))
	}
	var song []byte
	if st.song && u.song >= 0 {
		song = s.ref.songs[u.song].frag
	}
	b := s.head(append(s.buf[:0], '{'), tsMs, u)
	b = append(b, st.frag...)
	b = s.tail(b, u, st)
	if song != nil {
		b = append(b, ',')
		b = append(b, song...)
	}
	b = append(b, '}', '\n')
	if err := s.out.line(pageView, u.ts, b); err != nil {
		return err
	}
	n := len(b)
	if song != nil {
		b = append(b, '{')
		b = append(b, song...)
		b = append(b, ',')
		b = s.head(b, tsMs, u)
		b = append(b, st.fragAuthLv...)
		b = s.tail(b, u, st)
		b = append(b, '}', '\n')
		if err := s.out.line(listen, u.ts, b[n:]); err != nil {
			return err
		}
	}
	if st.statusChg {
		b = append(b[:n], '{')
		b = s.head(b, tsMs, u)
		b = append(b, st.fragAuthLv...)
		b = s.tail(b, u, st)
		b = append(b, '}', '\n')
		if err := s.out.line(statusChange, u.ts, b[n:]); err != nil {
			return err
		}
	}
	if u.prev >= 0 && s.states[u.prev].login {
		b = append(b[:n], '{')
		b = s.head(b, tsMs, u)
		b = append(b, st.fragLv...)
		b = s.tail(b, u, st)
		if st.Auth == "Logged In" {
			b = append(b, `,"success":true}`+"\n"...)
		} else {
			b = append(b, `,"success":false}`+"\n"...)
		}
		if err := s.out.line(auth, u.ts, b[n:]); err != nil {
			return err
		}
	}
	s.buf = b[:0]
	return nil
}

// head writes `"ts":..,"sessionId":..,`.
func (s *sim) head(b []byte, tsMs int64, u *user) []byte {
	b = append(b, `"ts":`...)
	b = strconv.AppendInt(b, tsMs, 10)
	b = append(b, `,"sessionId":`...)
	b = strconv.AppendInt(b, u.session, 10)
	return append(b, ',')
}

// tail writes itemInSession, the device fields and, when the auth shows them, the user fields.
func (s *sim) tail(b []byte, u *user, st *state) []byte {
	b = append(b, `,"itemInSession":`...)
	b = strconv.AppendInt(b, int64(u.item), 10)
	b = append(b, ',')
	b = append(b, s.ref.places[u.place]...)
	b = append(b, ',')
	b = append(b, s.ref.agents[u.agent]...)
	b = append(b, ',')
	b = append(b, s.ref.placeLonLat[u.place]...)
	if st.show {
		b = append(b, `,"userId":`...)
		b = strconv.AppendInt(b, u.id, 10)
		b = append(b, ',')
		b = append(b, s.ref.lastNames[u.last]...)
		b = append(b, ',')
		b = append(b, s.ref.firstNames[u.first]...)
		b = append(b, ',')
		b = append(b, s.ref.genders[u.first]...)
		b = append(b, `,"registration":`...)
		b = strconv.AppendInt(b, u.reg, 10)
		b = append(b, s.tag...)
	}
	return b
}

func (s *sim) interanaLine(u *user, st *state, tsMs int64) []byte {
	b := append(s.buf[:0], `{"ts":`...)
	b = strconv.AppendInt(b, tsMs, 10)
	b = append(b, `,"userId":"`...)
	if st.show {
		b = strconv.AppendInt(b, u.id, 10)
	}
	b = append(b, `","sessionId":`...)
	b = strconv.AppendInt(b, u.session, 10)
	b = append(b, ',')
	b = append(b, st.frag...)
	b = append(b, `,"itemInSession":`...)
	b = strconv.AppendInt(b, int64(u.item), 10)
	if st.show {
		b = append(b, ',')
		b = append(b, s.ref.metros[u.metro]...)
		b = append(b, ',')
		b = append(b, s.ref.agents[u.agent]...)
		b = append(b, ',')
		b = append(b, s.ref.lastNames[u.last]...)
		b = append(b, ',')
		b = append(b, s.ref.firstNames[u.first]...)
		b = append(b, `,"registration":`...)
		b = strconv.AppendInt(b, u.reg, 10)
		b = append(b, ',')
		b = append(b, s.ref.genders[u.first]...)
		b = append(b, s.tag...)
	}
	if st.song && u.song >= 0 {
		b = append(b, ',')
		b = append(b, s.ref.songs[u.song].fragLen...)
	}
	b = append(b, '}', '\n')
	s.buf = b[:0]
	return b
}
