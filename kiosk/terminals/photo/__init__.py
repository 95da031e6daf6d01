"""The photo terminal: free ID photos with live coaching and unlimited retakes."""
