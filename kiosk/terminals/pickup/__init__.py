"""pickup"""
