// Command eventsim is Medley's EventSim-compatible simulation core. `medley generate` resolves
// the flags and runs it; it writes the streams to files (-out) or hourly gzip objects (-spool)
// and reports on stdout one line per finished object, then `summary\t{json}`.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var (
		refDir     = flag.String("ref", "", "reference data directory")
		configPath = flag.String("config", "", "EventSim JSON config")
		dialect    = flag.String("dialect", "viirya", "viirya or interana")
		startMs    = flag.Int64("start-ms", 0, "window start, epoch ms")
		endMs      = flag.Int64("end-ms", -1, "window end, epoch ms (-1: none)")
		nUsers     = flag.Int64("nusers", 1, "initial users")
		growth     = flag.Float64("growth-rate", 0, "annual growth rate")
		attrition  = flag.Float64("attrition-rate", 0, "annual attrition rate")
		userID     = flag.Int64("userid", 1, "user ids start after this")
		seed       = flag.Int64("seed", 1, "random seed")
		tag        = flag.String("tag", "", "tag added to lines that show the user")
		continuous = flag.Bool("continuous", false, "pace events to the wall clock")
		outDir     = flag.String("out", "", "directory for the stream files")
		spoolDir   = flag.String("spool", "", "directory for hourly gzip objects")
	)
	flag.Parse()
	if err := run(*refDir, *configPath, *dialect, *startMs, *endMs, *nUsers, *growth, *attrition,
		*userID, *seed, *tag, *continuous, *outDir, *spoolDir); err != nil {
		fmt.Fprintln(os.Stderr, "eventsim:", err)
		os.Exit(1)
	}
}

func streamNames(dialect string) []string {
	if dialect == "interana" {
		return []string{"interana_events"}
	}
	// indexed by pageView, listen, auth, statusChange
	return []string{"page_view_events", "listen_events", "auth_events", "status_change_events"}
}

func run(refDir, configPath, dialect string, startMs, endMs, nUsers int64, growth, attrition float64,
	userID, seed int64, tag string, continuous bool, outDir, spoolDir string) error {
	if dialect != "viirya" && dialect != "interana" {
		return fmt.Errorf("unknown dialect %q", dialect)
	}
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	states, index, err := buildStates(cfg)
	if err != nil {
		return err
	}
	ref, err := loadReference(refDir)
	if err != nil {
		return err
	}
	stdout := bufio.NewWriter(os.Stdout)
	var out sink
	names := streamNames(dialect)
	if spoolDir != "" {
		out = &spoolSink{dir: spoolDir, names: names, report: stdout}
	} else {
		out, err = newFileSink(outDir, names)
		if err != nil {
			return err
		}
	}
	s := &sim{cfg: cfg, states: states, ref: ref, cal: calendar{cache: map[int64]bool{}},
		seed: seed, startS: floorDiv(startMs, 1000), msRem: startMs - floorDiv(startMs, 1000)*1000,
		noEnd: endMs < 0, nUsers: nUsers, growth: growth, attrition: attrition,
		interana: dialect == "interana", continuous: continuous, nextUser: userID,
		arr: newRng(seed, -1), out: out, starts: map[[2]string]*sessionStart{}}
	s.st.Lines = map[string]int64{}
	if !s.noEnd {
		s.endS = floorDiv(endMs, 1000)
	}
	if tag != "" {
		s.tag = []byte(`,"tag":` + jstr(tag))
	}
	for _, l := range cfg.Levels {
		s.levelW.add(l.Weight)
	}
	for _, a := range cfg.Auths {
		s.authW.add(a.Weight)
	}
	for _, ns := range cfg.NewSession {
		k := [2]string{ns.Auth, ns.Level}
		if s.starts[k] == nil {
			s.starts[k] = &sessionStart{}
		}
		s.starts[k].states = append(s.starts[k].states, index[ns.stateKey])
		s.starts[k].w.add(ns.Weight)
	}
	if s.levelW.total() == 0 || s.authW.total() == 0 {
		return fmt.Errorf("%s: levels and auths need positive weights", configPath)
	}
	began := time.Now()
	if err := s.run(); err != nil {
		return err
	}
	for i, n := range out.counts() {
		s.st.Lines[names[i]] = n
	}
	summary, _ := json.Marshal(struct {
		stats
		Seconds float64 `json:"seconds"`
	}{s.st, time.Since(began).Seconds()})
	fmt.Fprintf(stdout, "summary\t%s\n", summary)
	return stdout.Flush()
}
