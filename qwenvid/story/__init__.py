"""Stories: a cast kept across shots, takes to choose from, a storyboard from a paragraph, narration and subtitles."""
