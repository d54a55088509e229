package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

type sink interface {
	line(stream int, ts int64, b []byte) error
	tick(ts int64) error // the simulation clock reached ts (s): hours before it are complete
	flush() error
	close() error
	counts() []int64
}

// fileSink writes one JSON-lines file per stream, named like EventSim's file output.
type fileSink struct {
	files []*os.File
	w     []*bufio.Writer
	n     []int64
}

func newFileSink(dir string, names []string) (*fileSink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &fileSink{n: make([]int64, len(names))}
	for _, name := range names {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		s.files = append(s.files, f)
		s.w = append(s.w, bufio.NewWriterSize(f, 1<<20))
	}
	return s, nil
}

func (s *fileSink) line(stream int, _ int64, b []byte) error {
	s.n[stream]++
	_, err := s.w[stream].Write(b)
	return err
}

func (s *fileSink) tick(int64) error { return nil }

func (s *fileSink) flush() error {
	for _, w := range s.w {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func (s *fileSink) close() error {
	if err := s.flush(); err != nil {
		return err
	}
	for _, f := range s.files {
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (s *fileSink) counts() []int64 { return s.n }

// spoolSink cuts each stream into one gzip JSON-lines object per event hour. A finished object
// is renamed into place and announced as `object\t<stream>\t<hour start, epoch s>\t<path>`;
// the caller uploads and deletes it. Same events => same bytes (gzip header without time).
type spoolSink struct {
	dir    string
	names  []string
	report *bufio.Writer
	open   []*hourObject
	n      []int64
}

type hourObject struct {
	hour int64
	path string
	f    *os.File
	gz   *gzip.Writer
	w    *bufio.Writer
}

func (s *spoolSink) init() error {
	if s.open == nil {
		s.open = make([]*hourObject, len(s.names))
		s.n = make([]int64, len(s.names))
		return os.MkdirAll(s.dir, 0o755)
	}
	return nil
}

func (s *spoolSink) line(stream int, ts int64, b []byte) error {
	if err := s.init(); err != nil {
		return err
	}
	hour := floorDiv(ts, 3600)
	o := s.open[stream]
	if o == nil {
		name := fmt.Sprintf("%s-%s.jsonl.gz", s.names[stream], time.Unix(hour*3600, 0).UTC().Format("2006010215"))
		o = &hourObject{hour: hour, path: filepath.Join(s.dir, name)}
		f, err := os.Create(o.path + ".part")
		if err != nil {
			return err
		}
		o.f = f
		o.gz, _ = gzip.NewWriterLevel(f, gzip.BestSpeed)
		o.w = bufio.NewWriterSize(o.gz, 1<<16)
		s.open[stream] = o
	}
	s.n[stream]++
	_, err := o.w.Write(b)
	return err
}

func (s *spoolSink) finish(stream int) error {
	o := s.open[stream]
	s.open[stream] = nil
	if err := o.w.Flush(); err != nil {
		return err
	}
	if err := o.gz.Close(); err != nil {
		return err
	}
	if err := o.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(o.path+".part", o.path); err != nil {
		return err
	}
	fmt.Fprintf(s.report, "object\t%s\t%d\t%s\n", s.names[stream], o.hour*3600, o.path)
	return s.report.Flush()
}

func (s *spoolSink) tick(ts int64) error {
	if err := s.init(); err != nil {
		return err
	}
	hour := floorDiv(ts, 3600)
	for i, o := range s.open {
		if o != nil && o.hour < hour {
			if err := s.finish(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *spoolSink) flush() error {
	for _, o := range s.open {
		if o != nil {
			if err := o.w.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *spoolSink) close() error {
	if err := s.init(); err != nil {
		return err
	}
	for i, o := range s.open {
		if o != nil {
			if err := s.finish(i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *spoolSink) counts() []int64 {
	s.init()
	return s.n
}
