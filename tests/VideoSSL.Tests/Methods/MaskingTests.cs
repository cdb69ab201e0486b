using VideoSSL.Methods;
using VideoSSL.Models;
using VideoSSL.Tests.Serialization;

namespace VideoSSL.Tests.Methods;

using Torch = VideoSSL.Torch.Torch;

public class MaskingTests
{
    [Fact]
    public void Tube_mask_masks_exactly_int_ratio_cells_and_repeats_them_over_time()
    {
        var grid = new TokenGrid(8, 14, 14);
        var generator = new TubeMaskGenerator(grid, 0.9);
        Assert.Equal(176, generator.MaskedPerFrame);
        Assert.Equal(160, generator.NumVisible);
        var rng = new Random(3);
        var seen = new HashSet<string>();
        for (var s = 0; s < 16; s++)
        {
            var mask = generator.Next(rng);
            Assert.Equal(1568 - 160, mask.Count(m => m));
            var first = mask[..196];
            Assert.Equal(176, first.Count(m => m));
            for (var t = 1; t < 8; t++)
            {
                Assert.Equal(first, mask[(t * 196)..((t + 1) * 196)]);
            }
            seen.Add(string.Concat(first.Select(m => m ? '1' : '0')));
        }
        Assert.True(seen.Count > 1, "every sample drew the same spatial mask");
        Assert.Equal(new TubeMaskGenerator(grid, 0.9).Next(new Random(9)), new TubeMaskGenerator(grid, 0.9).Next(new Random(9)));
        Assert.Equal(2, new TubeMaskGenerator(new TokenGrid(2, 2, 2), 0.75).NumVisible); // int(0.75 · 4) = 3 masked per slice
    }

    [Fact]
    public void Token_mask_lists_visible_and_masked_positions_in_ascending_order()
    {
        using var scope = Torch.NewScope();
        using var mask = new TokenMask([[true, false, false, true], [false, true, true, false]]);
        Assert.Equal([0L, 3, 1, 2], mask.Masked.ToArray<long>());
        Assert.Equal([1L, 2, 0, 3], mask.Visible.ToArray<long>());
        Assert.Equal([1, 0, 0, 1, 0, 1, 1, 0], mask.Mask.To(VideoSSL.Torch.ScalarType.UInt8).ToArray<byte>().Select(v => (int)v));
        var error = Assert.Throws<ArgumentException>(() => new TokenMask([[true, false], [true, true]]));
        Assert.Contains("mask 1", error.Message);
    }

    [Fact]
    public void Running_cell_pattern_matches_the_hand_enumeration()
    {
        // One 2×2 cell over 4 slices, start 0: slice t uses queue [1,1,0,0] rotated by t + 1.
        var generator = new RunningCellMaskGenerator(new TokenGrid(4, 2, 2));
        bool[] expected =
        [
            true, false, false, true,
            false, false, true, true,
            false, true, true, false,
            true, true, false, false,
        ];
        Assert.Equal(expected, generator.Pattern(0));
        // Start 1 is start 0 one slice later.
        Assert.Equal(expected[4..].Concat(expected[..4]).ToArray(), generator.Pattern(1));
    }

    [Fact]
    public void Running_cell_keeps_half_of_every_slice_and_shifts_by_one_cell_position()
    {
        var grid = new TokenGrid(8, 14, 14);
        var generator = new RunningCellMaskGenerator(grid);
        Assert.Equal(784, generator.NumKept);
        for (var p = 0; p < 4; p++)
        {
            var mask = generator.Pattern(p);
            for (var t = 0; t < 8; t++)
            {
                Assert.Equal(98, mask.Skip(t * 196).Take(196).Count(m => !m));
                if (t == 7)
                {
                    continue;
                }
                for (var h = 0; h < 14; h++)
                {
                    for (var w = 0; w < 14; w++)
                    {
                        // Cell position k at slice t + 1 shows what position k + 1 showed at slice t.
                        var k = ((h % 2) * 2) + (w % 2);
                        var k1 = (k + 1) % 4;
                        var (h1, w1) = (h - (h % 2) + (k1 / 2), w - (w % 2) + (k1 % 2));
                        Assert.Equal(mask[(t * 196) + (h1 * 14) + w1], mask[((t + 1) * 196) + (h * 14) + w]);
                    }
                }
            }
        }
        Assert.Throws<ArgumentException>(() => new RunningCellMaskGenerator(new TokenGrid(2, 3, 4)));
    }

    [Fact]
    public void Running_cell_patterns_equal_the_official_generator()
    {
        // The official Cell / RunningCellMaskingGenerator (OpenGVLab/VideoMAEv2 dataset/masking_generator.py), run in numpy.
        const string script = """
import numpy as np
class Cell:
    def __init__(self, num_masks, num_patches):
        self.size = num_masks + num_patches
        self.queue = np.hstack([np.ones(num_masks), np.zeros(num_patches)])
        self.queue_ptr = 0
    def set_ptr(self, pos=-1):
        self.queue_ptr = np.random.randint(self.size) if pos < 0 else pos
    def get_cell(self):
        cell_idx = (np.arange(self.size) + self.queue_ptr) % self.size
        return self.queue[cell_idx]
    def run_cell(self):
        self.queue_ptr += 1
frames, height, width = 3, 4, 6
cell = Cell(2, 2)
for ptr_pos in range(4):
    cell.set_ptr(ptr_pos)
    mask = []
    for _ in range(frames):
        cell.run_cell()
        mask_unit = cell.get_cell().reshape(2, 2)
        mask.append(np.tile(mask_unit, [height // 2, width // 2]).flatten())
    print(''.join(str(int(v)) for v in np.stack(mask, axis=0).flatten()))
""";
        var lines = SystemPython.Run(script).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var generator = new RunningCellMaskGenerator(new TokenGrid(3, 4, 6));
        Assert.Equal(4, lines.Length);
        for (var p = 0; p < 4; p++)
        {
            Assert.Equal(lines[p].Trim(), string.Concat(generator.Pattern(p).Select(m => m ? '1' : '0')));
        }
    }
}
