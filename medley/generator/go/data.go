package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// simConfig is the part of EventSim's JSON config the simulation reads.
type simConfig struct {
	Alpha                float64 `json:"alpha"`
	Beta                 float64 `json:"beta"`
	Damping              float64 `json:"damping"`
	WeekendDamping       float64 `json:"weekend-damping"`
	WeekendDampingOffset int64   `json:"weekend-damping-offset"`
	WeekendDampingScale  int64   `json:"weekend-damping-scale"`
	SessionGap           int64   `json:"session-gap"`
	ChurnedState         string  `json:"churned-state"`
	ShowUserDetails      []struct {
		Auth string `json:"auth"`
		Show bool   `json:"show"`
	} `json:"show-user-details"`
	Levels []struct {
		Level  string `json:"level"`
		Weight uint64 `json:"weight"`
	} `json:"levels"`
	Auths []struct {
		Auth   string `json:"auth"`
		Weight uint64 `json:"weight"`
	} `json:"auths"`
	NewSession []struct {
		stateKey
		Weight uint64 `json:"weight"`
	} `json:"new-session"`
	NewUserAuth  string `json:"new-user-auth"`
	NewUserLevel string `json:"new-user-level"`
	Transitions  []struct {
		Source stateKey `json:"source"`
		Dest   stateKey `json:"dest"`
		P      float64  `json:"p"`
	} `json:"transitions"`
}

type stateKey struct {
	Page   string `json:"page"`
	Method string `json:"method"`
	Status int    `json:"status"`
	Auth   string `json:"auth"`
	Level  string `json:"level"`
}

type transition struct {
	upper float64 // cumulative probability; the mass above the last one ends the session
	dest  int32
}

type state struct {
	stateKey
	trans      []transition
	redirect   bool // 3xx: the next page comes exactly 1 s later
	song       bool // NextSong
	login      bool // the event after a Login page goes to auth_events
	statusChg  bool // Submit Upgrade / Submit Downgrade
	show       bool // user fields shown for this auth
	churned    bool
	frag       []byte // "page":..,"auth":..,"method":..,"status":..,"level":..
	fragAuthLv []byte // "auth":..,"level":..
	fragLv     []byte // "level":..
}

type song struct {
	duration int64  // whole seconds, as EventSim advances the clock
	frag     []byte // "artist":..,"song":..,"duration":..   (viirya)
	fragLen  []byte // "artist":..,"song":..,"length":..     (interana)
}

type reference struct {
	songs       []song
	songW       weighted
	places      [][]byte // "city":..,"zip":..,"state":..
	placeLonLat [][]byte // "lon":..,"lat":..
	agents      [][]byte // "userAgent":..
	agentW      weighted
	firstNames  [][]byte // "firstName":..
	genders     [][]byte // "gender":..
	firstW      weighted
	lastNames   [][]byte // "lastName":..
	lastW       weighted
	metros      [][]byte // "location":..
	metroW      weighted
}

func loadConfig(path string) (*simConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c simConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &c, nil
}

// buildStates numbers every (page, method, status, auth, level) the config names and lays out
// each state's transitions as cumulative probabilities in config order, as EventSim does.
func buildStates(c *simConfig) ([]state, map[stateKey]int32, error) {
	index := map[stateKey]int32{}
	var states []state
	show := map[string]bool{}
	for _, s := range c.ShowUserDetails {
		show[s.Auth] = s.Show
	}
	id := func(k stateKey) int32 {
		if i, ok := index[k]; ok {
			return i
		}
		i := int32(len(states))
		index[k] = i
		st := state{stateKey: k}
		st.redirect = k.Status >= 300 && k.Status < 399
		st.song = k.Page == "NextSong"
		st.login = k.Page == "Login"
		st.statusChg = k.Page == "Submit Upgrade" || k.Page == "Submit Downgrade"
		st.show = show[k.Auth]
		st.churned = k.Auth == c.ChurnedState
		st.frag = []byte(`"page":` + jstr(k.Page) + `,"auth":` + jstr(k.Auth) + `,"method":` + jstr(k.Method) +
			`,"status":` + strconv.Itoa(k.Status) + `,"level":` + jstr(k.Level))
		st.fragAuthLv = []byte(`"auth":` + jstr(k.Auth) + `,"level":` + jstr(k.Level))
		st.fragLv = []byte(`"level":` + jstr(k.Level))
		states = append(states, st)
		return i
	}
	for _, ns := range c.NewSession {
		id(ns.stateKey)
	}
	for _, t := range c.Transitions {
		src, dst := id(t.Source), id(t.Dest)
		tr := states[src].trans
		upper := t.P
		if len(tr) > 0 {
			upper += tr[len(tr)-1].upper
		}
		if upper > 1.0+1e-9 {
			return nil, nil, fmt.Errorf("transitions from %+v add up to more than 1", t.Source)
		}
		states[src].trans = append(tr, transition{upper, dst})
	}
	return states, index, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		g, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		r = g
	}
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines, sc.Err()
}

// capitalize as Scala's toLowerCase.capitalize: "SMITH" -> "Smith".
func capitalize(s string) string {
	s = strings.ToLower(s)
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}

func loadReference(dir string) (*reference, error) {
	ref := &reference{}
	p := func(name string) string { return filepath.Join(dir, name) }

	lines, err := readLines(p("listen_counts.txt.gz"))
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) < 5 {
			return nil, fmt.Errorf("listen_counts.txt.gz: bad line %q", l)
		}
		d := float32(180.0)
		if f[3] != "" {
			v, err := strconv.ParseFloat(f[3], 32)
			if err != nil {
				return nil, fmt.Errorf("listen_counts.txt.gz: bad duration %q", f[3])
			}
			d = float32(v)
		}
		n, err := strconv.ParseUint(f[4], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("listen_counts.txt.gz: bad count %q", f[4])
		}
		head := `"artist":` + jstr(f[1]) + `,"song":` + jstr(f[2])
		ref.songs = append(ref.songs, song{
			duration: int64(d),
			frag:     []byte(head + `,"duration":` + javaFloat(d)),
			fragLen:  []byte(head + `,"length":` + javaFloat(d)),
		})
		ref.songW.add(n)
	}

	if lines, err = readLines(p("us_places.tsv.gz")); err != nil {
		return nil, err
	}
	for _, l := range lines {
		f := strings.Split(l, "\t") // zip, city, state, lat, lon
		if len(f) < 5 {
			return nil, fmt.Errorf("us_places.tsv.gz: bad line %q", l)
		}
		lat, err1 := strconv.ParseFloat(f[3], 64)
		lon, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("us_places.tsv.gz: bad line %q", l)
		}
		ref.places = append(ref.places, []byte(`"city":`+jstr(f[1])+`,"zip":`+jstr(f[0])+`,"state":`+jstr(f[2])))
		ref.placeLonLat = append(ref.placeLonLat, []byte(`"lon":`+javaDouble(lon)+`,"lat":`+javaDouble(lat)))
	}

	if lines, err = readLines(p("user_agents.tsv")); err != nil {
		return nil, err
	}
	for _, l := range lines {
		f := strings.SplitN(l, "\t", 2)
		w, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || len(f) < 2 {
			return nil, fmt.Errorf("user_agents.tsv: bad line %q", l)
		}
		ref.agents = append(ref.agents, []byte(`"userAgent":`+jstr(f[1])))
		ref.agentW.add(w)
	}

	if lines, err = readLines(p("first_names.csv.gz")); err != nil {
		return nil, err
	}
	for _, l := range lines {
		f := strings.Split(l, ",") // name, gender, count
		w, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil || len(f) < 3 {
			return nil, fmt.Errorf("first_names.csv.gz: bad line %q", l)
		}
		ref.firstNames = append(ref.firstNames, []byte(`"firstName":`+jstr(capitalize(f[0]))))
		ref.genders = append(ref.genders, []byte(`"gender":`+jstr(f[1])))
		ref.firstW.add(w)
	}

	if lines, err = readLines(p("surnames.csv.gz")); err != nil {
		return nil, err
	}
	for _, l := range lines {
		f := strings.Split(l, ",") // name, count
		w, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("surnames.csv.gz: bad line %q", l)
		}
		ref.lastNames = append(ref.lastNames, []byte(`"lastName":`+jstr(capitalize(f[0]))))
		ref.lastW.add(w)
	}

	if lines, err = readLines(p("metro_areas.tsv.gz")); err != nil {
		return nil, err
	}
	for _, l := range lines {
		f := strings.Split(l, "\t") // name, 2010 population
		w, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("metro_areas.tsv.gz: bad line %q", l)
		}
		ref.metros = append(ref.metros, []byte(`"location":`+jstr(f[0])))
		ref.metroW.add(w)
	}
	return ref, nil
}

// jstr quotes like Jackson: escapes quote, backslash and control characters, keeps UTF-8 as is.
func jstr(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04X`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// javaFloat and javaDouble print like Java's Float.toString / Double.toString for the plain
// decimal range used here: shortest round-trip digits, always with a fractional part.
func javaFloat(f float32) string { return withPoint(strconv.FormatFloat(float64(f), 'f', -1, 32)) }

func javaDouble(f float64) string {
	if math.Abs(f) >= 1e7 || (f != 0 && math.Abs(f) < 1e-3) {
		return strconv.FormatFloat(f, 'E', -1, 64)
	}
	return withPoint(strconv.FormatFloat(f, 'f', -1, 64))
}

func withPoint(s string) string {
	if !strings.ContainsAny(s, ".E") {
		return s + ".0"
	}
	return s
}
