package dev.iqlite.core;

/**
 * The 0–5 star scale every user-visible score is on (mirror of {@code training/core/score_scale.py}).
 */
public final class ScoreScale {
    public static final double STAR_MIN = 0.0;
    public static final double STAR_MAX = 5.0;
    /** A score at or above this counts as a "good" photo ({@code training.core.score_scale.GOOD_THRESHOLD}). */
    public static final double GOOD_THRESHOLD = 2.5;

    private ScoreScale() {}

    /** The score clipped to [0, 5] (NaN stays NaN, as with numpy's clip). */
    public static double clamp(double score) {
        if (Double.isNaN(score)) {
            return score;
        }
        return Math.min(STAR_MAX, Math.max(STAR_MIN, score));
    }

    /**
     * The nearest half star, clipped to [0, 5], exactly as {@code round_half_stars}: ties round up
     * ({@code 2.25 -> 2.5}, {@code 2.75 -> 3.0}), never to even.
     */
    public static double stars(double score) {
        return clamp(Math.floor(score * 2.0 + 0.5) / 2.0);
    }

    /** Whether a score counts as good ({@code score >= 2.5}). */
    public static boolean isGood(double score) {
        return score >= GOOD_THRESHOLD;
    }

    /** The whole stars of a half-star rating (from {@link #stars}), for drawing a star widget. */
    public static int fullStars(double stars) {
        return (int) Math.floor(stars);
    }

    /** Whether a half-star rating (from {@link #stars}) ends in a half star. */
    public static boolean hasHalfStar(double stars) {
        return stars - Math.floor(stars) >= 0.5;
    }

    /** A score as people read it, e.g. {@code "4.0"}, with one decimal. */
    public static String format(double score) {
        return String.format(java.util.Locale.ROOT, "%.1f", score);
    }
}
