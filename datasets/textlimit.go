package datasets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line, CSV record or XML token the text readers
// (catalogs, labels, host truth, hints) accept. Real ones stay under a few
// kilobytes; without a bound a file that lacks its newlines is read whole
// into memory before any parser can object.
const MaxLine = 1 << 20

// ErrLineTooLong marks a text input whose line, record or token is longer
// than the bound of LimitText.
var ErrLineTooLong = errors.New("line too long")

// TextUnit says what LimitText bounds.
type TextUnit int

// Units LimitText bounds.
const (
	// Lines: text between newlines.
	Lines TextUnit = iota
	// CSVRecords: comma-separated records; a newline inside a
	// double-quoted field does not end one.
	CSVRecords
	// XMLTokens: text or markup between '<' and '>'.
	XMLTokens
)

// LimitText returns a reader that passes r on one whole unit (line, CSV
// record, XML token) at a time and fails with an error wrapping
// ErrLineTooLong, which gives the line the unit starts on, as soon as one
// unit runs longer than max bytes, before handing any of it on. The parser
// reading from it thus never sees the overlong unit (it would report
// something else, or run out of memory first), and the reader holds at
// most max bytes. The error does not name the file: the caller adds it.
func LimitText(r io.Reader, max int, unit TextUnit) io.Reader {
	return &textLimiter{r: r, max: max, unit: unit, line: 1, start: 1}
}

type textLimiter struct {
	r    io.Reader
	max  int
	unit TextUnit

	buf     []byte // read from r; buf[:off] is passed on already
	off     int
	ready   int // buf[off:ready] are whole units, to pass on
	scanned int // buf[:scanned] has been looked at
	line    int // line of buf[scanned]
	start   int // line on which the unit at buf[ready] starts
	csv     csvState
	err     error // from r (io.EOF included) or the bound
	long    error // the bound's, once scan found a unit too long
}

// csvState is where a CSV scan stands, as encoding/csv reads (comma
// separator, no lazy quotes).
type csvState uint8

const (
	fieldStart csvState = iota // at the start of a field
	unquoted                   // in a field that did not start with a quote
	quoted                     // inside a double-quoted field
	quoteSeen                  // a quote inside a quoted field: closing, or the first of two
)

func (l *textLimiter) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for l.off == l.ready {
		if l.err != nil {
			if l.err == io.EOF && l.ready < len(l.buf) {
				l.ready = len(l.buf) // the last unit, without its end
				break
			}
			return 0, l.err
		}
		if l.off > 0 { // keep only what is not passed on yet
			l.buf = l.buf[:copy(l.buf, l.buf[l.off:])]
			l.scanned -= l.off
			l.off, l.ready = 0, 0
		}
		if len(l.buf) == cap(l.buf) {
			grow := min(max(4096, len(l.buf)), l.max+4096)
			l.buf = append(l.buf, make([]byte, grow)...)[:len(l.buf)]
		}
		n, err := l.r.Read(l.buf[len(l.buf):cap(l.buf)])
		l.buf = l.buf[:len(l.buf)+n]
		l.scan()
		switch {
		case l.long != nil:
			l.err = l.long // after the whole units before it
		case err != nil:
			l.err = err
		}
	}
	n := copy(p, l.buf[l.off:l.ready])
	l.off += n
	return n, nil
}

// scan looks at the bytes read since the last scan and moves ready to
// the end of the last whole unit among them.
func (l *textLimiter) scan() {
	for i := l.scanned; i < len(l.buf); i++ {
		c := l.buf[i]
		end := false
		switch l.unit {
		case Lines:
			end = c == '\n'
		case XMLTokens:
			end = c == '<' || c == '>'
		case CSVRecords:
			switch l.csv {
			case fieldStart, unquoted:
				switch {
				case c == '"' && l.csv == fieldStart:
					l.csv = quoted
				case c == ',':
					l.csv = fieldStart
				case c == '\n':
					end, l.csv = true, fieldStart
				default:
					l.csv = unquoted
				}
			case quoted:
				if c == '"' {
					l.csv = quoteSeen
				}
			case quoteSeen:
				switch c {
				case '"':
					l.csv = quoted
				case ',':
					l.csv = fieldStart
				case '\n':
					end, l.csv = true, fieldStart
				default:
					l.csv = unquoted // encoding/csv rejects it
				}
			}
		}
		if c == '\n' {
			l.line++
		}
		if end {
			l.ready = i + 1
			l.start = l.line
		} else if i+1-l.ready > l.max {
			// Pass on the units before this one, then fail.
			l.long = l.tooLong(l.buf[l.ready : i+1])
			l.scanned = i + 1
			return
		}
	}
	l.scanned = len(l.buf)
}

func (l *textLimiter) tooLong(unit []byte) error {
	size := sizeText(l.max)
	what := fmt.Sprintf("longer than %s without a newline", size)
	switch {
	case l.unit == XMLTokens:
		what = fmt.Sprintf("text or a tag longer than %s", size)
	case l.unit == CSVRecords && l.csv == quoted && bytes.IndexByte(unit, '\n') >= 0:
		what = fmt.Sprintf("a quoted field runs on for more than %s (a quote left open?)", size)
	case bytes.IndexByte(unit, '\n') >= 0:
		what = fmt.Sprintf("a record longer than %s", size)
	}
	return &LineTooLongError{Line: l.start, Max: l.max, what: what}
}

// LineTooLongError is LimitText's error; errors.Is(err, ErrLineTooLong)
// holds.
type LineTooLongError struct {
	Line int // where the line, record or token starts
	Max  int // the bound, in bytes
	what string
}

func (e *LineTooLongError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.what) }

// Is reports whether target is ErrLineTooLong.
func (e *LineTooLongError) Is(target error) bool { return target == ErrLineTooLong }

// sizeText writes a byte count as a person would.
func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// CSVError names the file and line of an encoding/csv error or of a
// record longer than MaxLine, marked as kind (the reader's format error);
// other errors only get the name.
func CSVError(name string, err, kind error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, ErrLineTooLong):
		return fmt.Errorf("%s: %w: %w", name, err, kind)
	case errors.As(err, &pe):
		return fmt.Errorf("%s: line %d: %w: %w", name, pe.Line, pe.Err, kind)
	}
	return fmt.Errorf("%s: %w", name, err)
}
