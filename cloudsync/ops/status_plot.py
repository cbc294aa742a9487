# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""A PNG chart of lag and backlog over time, with no plotting library.

``cloudsync-status --plot FILE.png`` draws, from the passes the daemon
recorded in its progress files, two panels sharing a time axis: the lag
(age of the oldest unsynced change) on top and the rows behind below, one
coloured line per mapping, with the largest value of each panel, the time
span (UTC) and a legend. It is written with :mod:`zlib` and a built-in
3x5 pixel font, so it needs nothing beyond the standard library.
"""

import struct
import time
import zlib

WIDTH = 800
HEIGHT = 520
MARGIN_LEFT = 70
MARGIN_RIGHT = 20
PANEL_GAP = 40
TOP = 30
LEGEND_HEIGHT = 20
SCALE = 2

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (200, 200, 200)
PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14),
           (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207)]

# 3x5 glyphs, rows top to bottom, '#' lit
_FONT = {
    '0': '###|# #|# #|# #|###', '1': ' # |## | # | # |###',
    '2': '###|  #|###|#  |###', '3': '###|  #|###|  #|###',
    '4': '# #|# #|###|  #|  #', '5': '###|#  |###|  #|###',
    '6': '###|#  |###|# #|###', '7': '###|  #|  #|  #|  #',
    '8': '###|# #|###|# #|###', '9': '###|# #|###|  #|###',
    'a': ' # |# #|###|# #|# #', 'b': '## |# #|## |# #|## ',
    'c': ' ##|#  |#  |#  | ##', 'd': '## |# #|# #|# #|## ',
    'e': '###|#  |## |#  |###', 'f': '###|#  |## |#  |#  ',
    'g': ' ##|#  |# #|# #| ##', 'h': '# #|# #|###|# #|# #',
    'i': '###| # | # | # |###', 'j': '  #|  #|  #|# #| # ',
    'k': '# #|# #|## |# #|# #', 'l': '#  |#  |#  |#  |###',
    'm': '# #|###|###|# #|# #', 'n': '## |# #|# #|# #|# #',
    'o': ' # |# #|# #|# #| # ', 'p': '## |# #|## |#  |#  ',
    'q': ' # |# #|# #|## | ##', 'r': '## |# #|## |# #|# #',
    's': ' ##|#  | # |  #|## ', 't': '###| # | # | # | # ',
    'u': '# #|# #|# #|# #|###', 'v': '# #|# #|# #|# #| # ',
    'w': '# #|# #|###|###|# #', 'x': '# #|# #| # |# #|# #',
    'y': '# #|# #| # | # | # ', 'z': '###|  #| # |#  |###',
    ' ': '   |   |   |   |   ', '-': '   |   |###|   |   ',
    '_': '   |   |   |   |###', '.': '   |   |   |   | # ',
    ':': '   | # |   | # |   ', '/': '  #|  #| # |#  |#  ',
    '(': ' # |#  |#  |#  | # ', ')': ' # |  #|  #|  #| # ',
    '%': '# #|  #| # |#  |# #', '?': '###|  #| ##|   | # ',
    '*': '   |# #| # |# #|   ', '+': '   | # |###| # |   ',
}


class Canvas:
    """An RGB image in memory."""

    def __init__(self, width, height, background=WHITE):
        self.width = width
        self.height = height
        self.rows = [bytearray(bytes(background) * width)
                     for _ in range(height)]

    def pixel(self, x, y, color):
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][3 * x:3 * x + 3] = bytes(color)

    def rect(self, x0, y0, x1, y1, color):
        for y in range(max(0, y0), min(self.height, y1 + 1)):
            for x in range(max(0, x0), min(self.width, x1 + 1)):
                self.rows[y][3 * x:3 * x + 3] = bytes(color)

    def line(self, x0, y0, x1, y1, color, thick=1):
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx = 1 if x0 < x1 else -1
        sy = 1 if y0 < y1 else -1
        err = dx + dy
        while True:
            self.rect(x0, y0, x0 + thick - 1, y0 + thick - 1, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x, y, text, color=BLACK, scale=SCALE):
        """Draw ``text`` with its top left corner at (x, y)."""
        for char in text.lower():
            glyph = _FONT.get(char, _FONT['?'])
            for row, bits in enumerate(glyph.split('|')):
                for col, bit in enumerate(bits):
                    if bit == '#':
                        self.rect(x + col * scale, y + row * scale,
                                  x + (col + 1) * scale - 1,
                                  y + (row + 1) * scale - 1, color)
            x += 4 * scale
        return x

    @staticmethod
    def text_width(text, scale=SCALE):
        return 4 * scale * len(text)

    def png(self):
        """The image as PNG bytes (8-bit RGB, no interlace)."""
        raw = b''.join(b'\x00' + bytes(row) for row in self.rows)

        def chunk(kind, data):
            body = kind + data
            return (struct.pack('>I', len(data)) + body +
                    struct.pack('>I', zlib.crc32(body) & 0xffffffff))

        header = struct.pack('>IIBBBBB', self.width, self.height, 8, 2, 0,
                             0, 0)
        return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) +
                chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))


def human_number(value):
    for limit, suffix in ((1e9, 'g'), (1e6, 'm'), (1e3, 'k')):
        if value >= limit:
            return '%.1f%s' % (value / limit, suffix)
    return '%d' % value if float(value).is_integer() else '%.1f' % value


def human_duration(seconds):
    seconds = float(seconds)
    for limit, suffix in ((86400, 'd'), (3600, 'h'), (60, 'm')):
        if seconds >= limit:
            return '%.1f%s' % (seconds / limit, suffix)
    return '%ds' % seconds


def _panel(canvas, top, bottom, title, series, t0, t1, value_index,
           fmt):
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    canvas.text(left, top - 14, title)
    peak = max((p[value_index] for _n, points in series for p in points),
               default=0) or 1
    canvas.line(left, top, left, bottom, BLACK)
    canvas.line(left, bottom, right, bottom, BLACK)
    canvas.line(left, top, right, top, GREY)
    label = fmt(peak)
    canvas.text(left - 6 - canvas.text_width(label), top, label)
    canvas.text(left - 6 - canvas.text_width('0'), bottom - 10, '0')
    span = (t1 - t0) or 1.0

    def xy(point):
        x = left + int((point[0] - t0) / span * (right - left))
        y = bottom - int(point[value_index] / peak * (bottom - top))
        return x, y

    for n, (_name, points) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        previous = None
        for point in points:
            here = xy(point)
            if previous is None:
                canvas.rect(here[0] - 1, here[1] - 1, here[0] + 1,
                            here[1] + 1, color)
            else:
                canvas.line(previous[0], previous[1], here[0], here[1],
                            color, thick=2)
            previous = here


def render(series, now=None):
    """PNG bytes of lag and backlog over time.

    :param series: ``[(name, [(time, rows_behind, lag), ...]), ...]``,
        each list in time order.
    """
    now = time.time() if now is None else now
    canvas = Canvas(WIDTH, HEIGHT)
    times = [p[0] for _n, points in series for p in points]
    t0, t1 = (min(times), max(times)) if times else (now - 3600, now)
    legend_top = HEIGHT - LEGEND_HEIGHT
    axis_bottom = legend_top - 24
    panel_height = (axis_bottom - TOP - PANEL_GAP) // 2
    lag_bottom = TOP + panel_height
    rows_top = lag_bottom + PANEL_GAP
    _panel(canvas, TOP, lag_bottom, 'lag (oldest unsynced change)', series,
           t0, t1, 2, human_duration)
    _panel(canvas, rows_top, axis_bottom, 'rows behind', series, t0, t1, 1,
           human_number)
    start = time.strftime('%Y-%m-%d %H:%M', time.gmtime(t0))
    end = time.strftime('%Y-%m-%d %H:%M utc', time.gmtime(t1))
    canvas.text(MARGIN_LEFT, axis_bottom + 6, start)
    canvas.text(WIDTH - MARGIN_RIGHT - canvas.text_width(end),
                axis_bottom + 6, end)
    if not series or not times:
        canvas.text(MARGIN_LEFT + 20, TOP + 20, 'no passes recorded yet')
    x = MARGIN_LEFT
    for n, (name, _points) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        canvas.rect(x, legend_top + 2, x + 9, legend_top + 11, color)
        x = canvas.text(x + 14, legend_top + 2, name) + 16
    return canvas.png()


def write(path, series, now=None):
    data = render(series, now)
    with open(path, 'wb') as f:
        f.write(data)
    return len(data)
