package transforms

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dateFormat is a java.text.SimpleDateFormat pattern (Locale.US, as TimestampRouter formats in
// UTC): runs of pattern letters, quoted text ('…', ” for a quote) and other characters as
// they are.
type dateFormat struct{ parts []datePart }

type datePart struct {
	letter byte // 0: literal
	count  int
	lit    string
}

func parseDateFormat(p string) (*dateFormat, error) {
	f := &dateFormat{}
	lit := func(s string) {
		if n := len(f.parts); n > 0 && f.parts[n-1].letter == 0 {
			f.parts[n-1].lit += s
			return
		}
		f.parts = append(f.parts, datePart{lit: s})
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("Unterminated quote")
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(p[j])
				j++
			}
			lit(b.String())
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if !strings.ContainsRune("GyYMLdDEFuwWaHkKhmsSzZX", rune(c)) {
				return nil, fmt.Errorf("Illegal pattern character '%c'", c)
			}
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			if c == 'X' && j-i > 3 {
				return nil, fmt.Errorf("invalid ISO 8601 format: length=%d", j-i)
			}
			f.parts = append(f.parts, datePart{letter: c, count: j - i})
			i = j
		default:
			lit(string(c))
			i++
		}
	}
	return f, nil
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// usWeek returns the week-based year and week of year of t as Locale.US counts them (weeks
// start on Sunday; week 1 holds January 1).
func usWeek(t time.Time) (year, week int) {
	y := t.Year()
	next := time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)
	firstSundayOfNextWeek1 := next.AddDate(0, 0, -int(next.Weekday()))
	day := time.Date(y, t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !day.Before(firstSundayOfNextWeek1) {
		return y + 1, 1
	}
	jan1 := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	return y, (t.YearDay()-1+int(jan1.Weekday()))/7 + 1
}

func (f *dateFormat) format(t time.Time) string {
	var b strings.Builder
	for _, p := range f.parts {
		n := p.count
		switch p.letter {
		case 0:
			b.WriteString(p.lit)
		case 'G':
			if t.Year() > 0 {
				b.WriteString("AD")
			} else {
				b.WriteString("BC")
			}
		case 'y', 'Y':
			y := t.Year()
			if p.letter == 'Y' {
				y, _ = usWeek(t)
			}
			if n == 2 {
				b.WriteString(pad(y%100, 2))
			} else {
				b.WriteString(pad(y, n))
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(pad(int(t.Month()), n))
			}
		case 'd':
			b.WriteString(pad(t.Day(), n))
		case 'D':
			b.WriteString(pad(t.YearDay(), n))
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'F':
			b.WriteString(pad((t.Day()-1)/7+1, n))
		case 'u':
			d := int(t.Weekday())
			if d == 0 {
				d = 7
			}
			b.WriteString(pad(d, n))
		case 'w':
			_, w := usWeek(t)
			b.WriteString(pad(w, n))
		case 'W':
			first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
			b.WriteString(pad((t.Day()-1+int(first.Weekday()))/7+1, n))
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'H':
			b.WriteString(pad(t.Hour(), n))
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, n))
		case 'K':
			b.WriteString(pad(t.Hour()%12, n))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, n))
		case 'm':
			b.WriteString(pad(t.Minute(), n))
		case 's':
			b.WriteString(pad(t.Second(), n))
		case 'S':
			b.WriteString(pad(t.Nanosecond()/int(time.Millisecond), n))
		case 'z':
			if n >= 4 {
				b.WriteString("Coordinated Universal Time")
			} else {
				b.WriteString("UTC")
			}
		case 'Z':
			b.WriteString("+0000")
		case 'X':
			b.WriteString("Z")
		}
	}
	return b.String()
}
