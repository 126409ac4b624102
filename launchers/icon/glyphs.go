package icon

import "math"

// shape is one stroke or filled part of a glyph, in unit coordinates (0,0
// top left, 1,1 bottom right).
type shape struct {
	line   []vec   // a polyline stroked with the glyph's stroke width
	box    *boxArg // a rounded box, stroked (outline) or filled
	filled bool    // fill the box, or the line as a capsule of width fill
	fill   float64 // half width of a filled line
}

type boxArg struct {
	c, h vec
	r    float64
}

// glyph is a union of shapes.
type glyph []shape

// dist is the signed distance from p to the glyph drawn with half stroke
// width hw.
func (g glyph) dist(p vec, hw float64) float64 {
	d := math.Inf(1)
	for _, s := range g {
		var sd float64
		switch {
		case s.box != nil && s.filled:
			sd = sdRoundBox(p, s.box.c, s.box.h, s.box.r)
		case s.box != nil:
			sd = math.Abs(sdRoundBox(p, s.box.c, s.box.h, s.box.r)) - hw
		default:
			w := hw
			if s.filled {
				w = s.fill
			}
			sd = math.Inf(1)
			for i := 0; i+1 < len(s.line); i++ {
				sd = fmin(sd, sdSegment(p, s.line[i], s.line[i+1]))
			}
			sd -= w
		}
		d = fmin(d, sd)
	}
	return d
}

// prepared is a glyph with each shape's bounding box, grown by the pad the
// anti-aliasing needs, so that dist skips shapes far from the point.
type prepared struct {
	g     glyph
	boxes [][4]float64 // minX, minY, maxX, maxY per shape
}

func (g glyph) prepare(pad float64) prepared {
	p := prepared{g: g}
	for _, s := range g {
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		grow := pad + s.fill
		pts := s.line
		if s.box != nil {
			pts = []vec{{s.box.c.x - s.box.h.x, s.box.c.y - s.box.h.y}, {s.box.c.x + s.box.h.x, s.box.c.y + s.box.h.y}}
		}
		for _, v := range pts {
			minX, minY = fmin(minX, v.x-grow), fmin(minY, v.y-grow)
			maxX, maxY = fmax(maxX, v.x+grow), fmax(maxY, v.y+grow)
		}
		p.boxes = append(p.boxes, [4]float64{minX, minY, maxX, maxY})
	}
	return p
}

// dist is glyph.dist restricted to the shapes whose grown box holds p; far
// from every shape it returns a distance large enough to cover nothing.
func (p prepared) dist(v vec, hw float64) float64 {
	d := math.Inf(1)
	for i, b := range p.boxes {
		if v.x < b[0] || v.y < b[1] || v.x > b[2] || v.y > b[3] {
			continue
		}
		d = fmin(d, p.g[i:i+1].dist(v, hw))
	}
	return d
}

// bounds returns the pixel rectangle outside which the glyph, grown by
// pad, covers nothing.
func (g glyph) bounds(pad float64, size int) (x0, y0, x1, y1 int) {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	add := func(v vec, grow float64) {
		minX, minY = fmin(minX, v.x-grow), fmin(minY, v.y-grow)
		maxX, maxY = fmax(maxX, v.x+grow), fmax(maxY, v.y+grow)
	}
	for _, s := range g {
		grow := pad
		if s.filled && s.fill > 0 {
			grow += s.fill
		}
		if s.box != nil {
			add(vec{s.box.c.x - s.box.h.x, s.box.c.y - s.box.h.y}, grow)
			add(vec{s.box.c.x + s.box.h.x, s.box.c.y + s.box.h.y}, grow)
		}
		for _, v := range s.line {
			add(v, grow)
		}
	}
	s := float64(size)
	clamp := func(v float64) int { return int(fmax(0, fmin(s, v))) }
	return clamp(math.Floor(minX * s)), clamp(math.Floor(minY * s)), clamp(math.Ceil(maxX * s)), clamp(math.Ceil(maxY * s))
}

func box(cx, cy, hx, hy, r float64) shape {
	return shape{box: &boxArg{c: vec{cx, cy}, h: vec{hx, hy}, r: r}}
}

func line(pts ...float64) shape {
	s := shape{}
	for i := 0; i+1 < len(pts); i += 2 {
		s.line = append(s.line, vec{pts[i], pts[i+1]})
	}
	return s
}

func bar(x, y0, y1, hw float64) shape {
	return shape{line: []vec{{x, y0}, {x, y1}}, filled: true, fill: hw}
}

// glyphs are drawn by the project, one simple line drawing per app; the
// names are catalog.Glyphs.
var glyphs = map[string]glyph{
	// Mail: an envelope.
	"envelope": {box(0.5, 0.5, 0.25, 0.18, 0.04), line(0.28, 0.37, 0.5, 0.53, 0.72, 0.37)},
	// Files: a folder with its tab.
	"folder": {
		line(0.25, 0.32, 0.42, 0.32, 0.47, 0.38, 0.75, 0.38, 0.75, 0.69, 0.25, 0.69, 0.25, 0.32),
		line(0.25, 0.45, 0.75, 0.45),
	},
	// Chat: a speech bubble with a tail.
	"bubble": {box(0.5, 0.45, 0.25, 0.17, 0.09), line(0.39, 0.62, 0.34, 0.73, 0.49, 0.62)},
	// Meet: a video camera.
	"camera": {box(0.42, 0.5, 0.17, 0.14, 0.04), line(0.63, 0.46, 0.76, 0.38, 0.76, 0.62, 0.63, 0.54, 0.63, 0.46)},
	// Meshjects: a board of three columns.
	"board": {bar(0.33, 0.33, 0.67, 0.055), bar(0.5, 0.33, 0.53, 0.055), bar(0.67, 0.33, 0.6, 0.055)},
	// Wiki: an open book.
	"book": {
		line(0.5, 0.36, 0.27, 0.31, 0.27, 0.67, 0.5, 0.72, 0.73, 0.67, 0.73, 0.31, 0.5, 0.36),
		line(0.5, 0.36, 0.5, 0.72),
	},
	// Notes: a page with lines of text.
	"page": {box(0.5, 0.5, 0.19, 0.24, 0.04), line(0.4, 0.4, 0.6, 0.4), line(0.4, 0.5, 0.6, 0.5), line(0.4, 0.6, 0.54, 0.6)},
}
